use chrono::{DateTime, Utc};
use serde::Serialize;

/// How recent an agent's data is (seed §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Freshness {
    /// < 12 h
    Fresh,
    /// 12–24 h
    Acceptable,
    /// 24–48 h
    Stale,
    /// > 48 h
    Outdated,
    /// Never synced.
    Never,
}

impl Freshness {
    pub fn of(last_sync: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Self {
        let Some(last) = last_sync else {
            return Self::Never;
        };
        let hours = (now - last).num_minutes() as f64 / 60.0;
        if hours < 12.0 {
            Self::Fresh
        } else if hours < 24.0 {
            Self::Acceptable
        } else if hours <= 48.0 {
            Self::Stale
        } else {
            Self::Outdated
        }
    }

    pub fn badge(self) -> &'static str {
        match self {
            Self::Fresh => "✅",
            Self::Acceptable => "🟡",
            Self::Stale => "🟠",
            Self::Outdated | Self::Never => "❌",
        }
    }

    /// The seed's Spanish label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Fresh => "Actualizado recientemente",
            Self::Acceptable => "Actualizado hoy",
            Self::Stale => "Actualizado ayer",
            Self::Outdated => "Requiere actualización",
            Self::Never => "Sin datos todavía",
        }
    }

    pub fn is_older_than_48h(self) -> bool {
        matches!(self, Self::Outdated | Self::Never)
    }
}

/// Spanish relative time: "hace un momento", "hace 1 minuto", "hace 3 horas", "hace 2 días".
pub fn hace(then: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (now - then).num_seconds().max(0);
    let (n, one, many) = if secs < 60 {
        return "hace un momento".to_string();
    } else if secs < 3600 {
        (secs / 60, "minuto", "minutos")
    } else if secs < 86_400 {
        (secs / 3600, "hora", "horas")
    } else if secs < 86_400 * 60 {
        (secs / 86_400, "día", "días")
    } else {
        (secs / (86_400 * 30), "mes", "meses")
    };
    format!("hace {n} {}", if n == 1 { one } else { many })
}

/// Footer for every data reply: "✅ Última actualización: hace 3 horas (Actualizado recientemente)".
pub fn footer(last_sync: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    let freshness = Freshness::of(last_sync, now);
    match last_sync {
        Some(at) => format!(
            "{} Última actualización: {} ({})",
            freshness.badge(),
            hace(at, now),
            freshness.label()
        ),
        None => format!(
            "{} Última actualización: nunca ({})",
            freshness.badge(),
            freshness.label()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn thresholds_follow_the_seed() {
        let now = Utc::now();
        let ago = |h: i64| Some(now - Duration::hours(h));
        assert_eq!(Freshness::of(ago(3), now), Freshness::Fresh);
        assert_eq!(Freshness::of(ago(12), now), Freshness::Acceptable);
        assert_eq!(Freshness::of(ago(30), now), Freshness::Stale);
        assert_eq!(Freshness::of(ago(49), now), Freshness::Outdated);
        assert_eq!(Freshness::of(None, now), Freshness::Never);
    }

    #[test]
    fn relative_time_in_spanish() {
        let now = Utc::now();
        assert_eq!(hace(now - Duration::seconds(5), now), "hace un momento");
        assert_eq!(hace(now - Duration::minutes(1), now), "hace 1 minuto");
        assert_eq!(hace(now - Duration::hours(3), now), "hace 3 horas");
        assert_eq!(hace(now - Duration::days(2), now), "hace 2 días");
        assert!(footer(Some(now - Duration::hours(3)), now).contains("Última actualización: hace 3 horas"));
        assert!(footer(None, now).contains("nunca"));
    }
}
