//! Telegram long polling that reports its state: every `getUpdates` answer marks the adapter
//! connected, every failure disconnected (with the reason), so `/salud` shows whether Telegram is
//! really reachable. Backoff and "retry after" as teloxide's own polling.

use std::collections::VecDeque;
use std::time::Duration;

use futures_util::Stream;
use teloxide::RequestError;
use teloxide::errors::AsResponseParameters;
use teloxide::prelude::*;
use teloxide::stop::{StopFlag, StopToken, mk_stop_token};
use teloxide::update_listeners::{StatefulListener, UpdateListener};

use crate::ports::StatusHook;

pub(super) struct Poller {
    bot: Bot,
    offset: i32,
    errors: u32,
    buffer: VecDeque<Update>,
    token: StopToken,
    flag: StopFlag,
    status: Option<StatusHook>,
}

/// A `getUpdates` listener for the dispatcher; `status` hears every change of state.
pub(super) fn listener(bot: Bot, status: Option<StatusHook>) -> impl UpdateListener<Err = RequestError> {
    let (token, flag) = mk_stop_token();
    let poller = Poller {
        bot,
        offset: 0,
        errors: 0,
        buffer: VecDeque::new(),
        token,
        flag,
        status,
    };
    StatefulListener::new(poller, as_stream, |p: &mut Poller| p.token.clone())
}

fn as_stream(p: &mut Poller) -> impl Stream<Item = Result<Update, RequestError>> + Send + '_ {
    futures_util::stream::unfold(p, next)
}

async fn next(p: &mut Poller) -> Option<(Result<Update, RequestError>, &mut Poller)> {
    loop {
        if let Some(update) = p.buffer.pop_front() {
            return Some((Ok(update), p));
        }
        if p.flag.is_stopped() {
            return None;
        }
        let request = p.bot.get_updates().offset(p.offset).send();
        let answer = tokio::select! {
            answer = request => answer,
            _ = p.flag.clone() => return None,
        };
        match answer {
            Ok(updates) => {
                p.errors = 0;
                p.report(true, None);
                if let Some(last) = updates.last() {
                    p.offset = last.id.as_offset();
                }
                p.buffer.extend(updates);
            }
            Err(e) => {
                let delay = match e.retry_after() {
                    Some(wait) => wait.duration(),
                    None => {
                        let wait = Duration::from_secs(1 << p.errors.min(6));
                        p.errors = p.errors.saturating_add(1);
                        wait
                    }
                };
                tracing::warn!(error = %e, retry_in_secs = delay.as_secs(), "Telegram: getUpdates falló");
                p.report(false, Some(format!("Telegram no entrega mensajes (getUpdates): {e}")));
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = p.flag.clone() => return None,
                }
                return Some((Err(e), p));
            }
        }
    }
}

impl Poller {
    fn report(&self, connected: bool, detail: Option<String>) {
        if let Some(status) = &self.status {
            status(connected, detail);
        }
    }
}
