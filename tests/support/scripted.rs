//! A page source for engine scheduling tests under tokio's paused clock, where real HTTP cannot be
//! used (a paused runtime fires request timeouts while a socket waits). It reserves budget through
//! the engine's real gate exactly as the Graph client does: 2 calls per agent.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::Duration;
use pulso::domain::DailyMetrics;
use pulso::sync::{AgentData, BudgetGate, FetchRequest, PageSource, SourceError};

#[derive(Default)]
pub struct ScriptedSource {
    /// Errors to return, in order, per page id; afterwards the page succeeds.
    script: Mutex<HashMap<String, Vec<SourceError>>>,
    pub fetches: Mutex<Vec<String>>,
}

impl ScriptedSource {
    pub fn fail(&self, page_id: &str, errors: Vec<SourceError>) {
        self.script.lock().unwrap().insert(page_id.to_string(), errors);
    }

    pub fn fetch_count(&self, page_id: &str) -> usize {
        self.fetches.lock().unwrap().iter().filter(|p| *p == page_id).count()
    }
}

pub fn transient() -> SourceError {
    SourceError::Retriable {
        reason: "Facebook no respondió (error temporal)".into(),
    }
}

#[async_trait]
impl PageSource for ScriptedSource {
    async fn fetch(&self, req: &FetchRequest, gate: &BudgetGate) -> Result<AgentData, SourceError> {
        self.fetches.lock().unwrap().push(req.page_id.clone());
        let scripted = {
            let mut script = self.script.lock().unwrap();
            script
                .get_mut(&req.page_id)
                .and_then(|errors| (!errors.is_empty()).then(|| errors.remove(0)))
        };
        gate.before_call().await?;
        if let Some(error) = scripted {
            return Err(error);
        }
        gate.before_call().await?;
        let days = (0..=(req.until - req.since).num_days())
            .map(|i| DailyMetrics {
                date: req.since + Duration::days(i),
                followers: Some(100 + i),
                impressions: Some(1000),
                reach: Some(600),
                posts: 1,
                ..Default::default()
            })
            .collect();
        Ok(AgentData {
            days,
            posts: Vec::new(),
            calls: 2,
            max_usage_pct: 0,
            refused_metrics: Vec::new(),
            instagram: None,
        })
    }
}
