//! Failures the sandbox can be told to produce for one Page.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A failure injected on every Graph request that targets one Page.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Fault {
    #[default]
    None,
    /// 190/463 "Session has expired".
    TokenExpired,
    /// 190/460 "The session has been invalidated because the user changed their password…".
    TokenInvalid,
    /// (#10) missing `pages_read_engagement`.
    PermissionDenied,
    /// 100/33 "Object with ID … does not exist".
    NotFound,
    /// Code 2, HTTP 500, `is_transient: true`, for the next `remaining` requests.
    Transient { remaining: u32 },
    /// HTTP 503 with an HTML body, for the next `remaining` requests.
    Http503Html { remaining: u32 },
    /// Answer normally, after this delay.
    Slow(Duration),
    /// (#80001) for Page tokens, (#4) otherwise, with `estimated_time_to_regain_access`.
    RateLimited,
    /// This Page alone answers (#80001) with `estimated_time_to_regain_access` = `regain_minutes`
    /// in its `X-Business-Use-Case-Usage`, for the next `remaining` requests; other Pages are
    /// unaffected. Counted in requests, not time, so a test's manual clock decides the wait.
    PageLimited { regain_minutes: u64, remaining: u32 },
}

impl Fault {
    /// Parses `none`, `token_expired`, `token_invalid`, `permission_denied`, `not_found`,
    /// `transient[:N]`, `http503[:N]`, `slow:MS` (or `slow:2s`), `rate_limited`.
    pub fn parse(text: &str) -> Result<Fault, String> {
        let text = text.trim().to_ascii_lowercase();
        let (name, arg) = match text.split_once(':') {
            Some((n, a)) => (n.trim(), Some(a.trim())),
            None => (text.as_str(), None),
        };
        let count = |default: u32| -> Result<u32, String> {
            arg.map_or(Ok(default), |a| a.parse().map_err(|_| format!("«{a}» is not a count")))
        };
        let fault = match name {
            "none" | "ok" => Fault::None,
            "token_expired" | "expired" => Fault::TokenExpired,
            "token_invalid" | "invalid" => Fault::TokenInvalid,
            "permission_denied" | "permission" => Fault::PermissionDenied,
            "not_found" | "gone" => Fault::NotFound,
            "transient" => Fault::Transient { remaining: count(1)? },
            "http503" | "http503_html" | "503" => Fault::Http503Html { remaining: count(1)? },
            "slow" => Fault::Slow(parse_duration(arg.ok_or("slow needs a delay, e.g. slow:500ms")?)?),
            "rate_limited" | "rate_limit" => Fault::RateLimited,
            "page_limited" => {
                let arg = arg.ok_or("page_limited needs minutes, e.g. page_limited:10 or page_limited:10/3")?;
                let (minutes, remaining) = arg.split_once('/').unwrap_or((arg, "1"));
                let bad = || format!("«{arg}» is not MINUTES[/REQUESTS]");
                Fault::PageLimited {
                    regain_minutes: minutes.trim().parse().map_err(|_| bad())?,
                    remaining: remaining.trim().parse().map_err(|_| bad())?,
                }
            }
            other => return Err(format!("unknown fault «{other}»")),
        };
        Ok(fault)
    }

    /// Parses `PAGE_ID=fault`, the form of `pulso sandbox --fault`.
    pub fn parse_assignment(text: &str) -> Result<(String, Fault), String> {
        let (page, fault) = text
            .split_once('=')
            .ok_or_else(|| format!("«{text}»: expected PAGE_ID=FAULT"))?;
        Ok((page.trim().to_string(), Fault::parse(fault)?))
    }
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("«{text}» is not a delay (e.g. 500ms, 2s)");
    if let Some(ms) = text.strip_suffix("ms") {
        ms.trim().parse().map(Duration::from_millis).map_err(|_| bad())
    } else if let Some(s) = text.strip_suffix('s') {
        s.trim()
            .parse::<f64>()
            .ok()
            .filter(|s| *s >= 0.0)
            .map(Duration::from_secs_f64)
            .ok_or_else(bad)
    } else {
        text.parse().map(Duration::from_millis).map_err(|_| bad())
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::None => f.write_str("none"),
            Fault::TokenExpired => f.write_str("token_expired"),
            Fault::TokenInvalid => f.write_str("token_invalid"),
            Fault::PermissionDenied => f.write_str("permission_denied"),
            Fault::NotFound => f.write_str("not_found"),
            Fault::Transient { remaining } => write!(f, "transient:{remaining}"),
            Fault::Http503Html { remaining } => write!(f, "http503:{remaining}"),
            Fault::Slow(d) => write!(f, "slow:{}ms", d.as_millis()),
            Fault::RateLimited => f.write_str("rate_limited"),
            Fault::PageLimited {
                regain_minutes,
                remaining,
            } => write!(f, "page_limited:{regain_minutes}/{remaining}"),
        }
    }
}

impl Serialize for Fault {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Fault {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Fault::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_fault_and_round_trips() {
        for text in [
            "none",
            "token_expired",
            "token_invalid",
            "permission_denied",
            "not_found",
            "transient:2",
            "http503:3",
            "slow:250ms",
            "rate_limited",
            "page_limited:10/2",
        ] {
            let fault = Fault::parse(text).unwrap();
            assert_eq!(fault.to_string(), text);
        }
        assert_eq!(Fault::parse("transient").unwrap(), Fault::Transient { remaining: 1 });
        assert_eq!(Fault::parse("slow:2s").unwrap(), Fault::Slow(Duration::from_secs(2)));
        assert!(Fault::parse("explode").is_err());
        assert_eq!(
            Fault::parse("page_limited:7").unwrap(),
            Fault::PageLimited {
                regain_minutes: 7,
                remaining: 1
            }
        );
        assert_eq!(
            Fault::parse_assignment("123=token_expired").unwrap(),
            ("123".to_string(), Fault::TokenExpired)
        );
        assert!(Fault::parse_assignment("123").is_err());
    }
}
