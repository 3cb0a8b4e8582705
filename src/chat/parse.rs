//! The command parser: one message → [`ParseOutcome`]. Pure: no I/O, no identity. Errors are short
//! Spanish sentences plus the correct usage.

use std::time::Duration;

use super::commands::{Command, ConnectStep, ParseOutcome, usage_of};
use crate::domain::{Network, Period};

/// Longest message the parser looks at; anything longer is refused before any work is done.
pub const MAX_INPUT_CHARS: usize = 1000;

/// Parses one chat message. `bot_name` is the bot's username (without `@`), when known, so that
/// `/cmd@otherbot` is ignored; names are compared case-insensitively, as are command names.
pub fn parse(text: &str, bot_name: Option<&str>) -> ParseOutcome {
    let trimmed = text.trim_start();
    let Some(rest) = trimmed.strip_prefix('/') else {
        return ParseOutcome::NotCommand;
    };
    if text.chars().count() > MAX_INPUT_CHARS {
        return ParseOutcome::Invalid(format!(
            "El mensaje es demasiado largo (máximo {MAX_INPUT_CHARS} caracteres). Escribe /ayuda para ver los comandos."
        ));
    }
    let (head, args) = match rest.find(char::is_whitespace) {
        Some(i) => (&rest[..i], rest[i..].trim()),
        None => (rest, ""),
    };
    let (name, mention) = match head.split_once('@') {
        Some((n, m)) => (n, Some(m)),
        None => (head, None),
    };
    if let (Some(mention), Some(bot)) = (mention, bot_name)
        && !mention.eq_ignore_ascii_case(bot)
    {
        return ParseOutcome::OtherBot;
    }
    let name = name.to_lowercase();
    if name.is_empty() {
        return ParseOutcome::Invalid("Falta el nombre del comando. Escribe /ayuda para ver los comandos.".into());
    }
    let args: Vec<&str> = args.split_whitespace().collect();
    match parse_args(&name, &args) {
        Ok(cmd) => ParseOutcome::Command(cmd),
        Err(msg) => ParseOutcome::Invalid(msg),
    }
}

fn invalid(name: &str, why: impl std::fmt::Display) -> String {
    format!("{why}. Uso: {}", usage_of(name))
}

/// A typed word as shown back in an error: short, one line, no markup characters.
pub fn shown(s: &str) -> String {
    let cleaned: String = crate::chat::text::plain(s)
        .chars()
        .filter(|c| !c.is_control())
        .take(30)
        .collect();
    if s.chars().count() > 30 {
        format!("{cleaned}…")
    } else {
        cleaned
    }
}

fn is_chart_word(w: &str) -> bool {
    matches!(
        w.to_lowercase().as_str(),
        "grafico" | "gráfico" | "grafica" | "gráfica" | "chart"
    )
}

/// Optional period (default `default`) and optional chart flag, in any order.
fn period_and_chart(name: &str, args: &[&str], default: Period, allow_chart: bool) -> Result<(Period, bool), String> {
    let mut period = None;
    let mut chart = false;
    for a in args {
        if allow_chart && is_chart_word(a) && !chart {
            chart = true;
        } else if period.is_none() {
            period = Some(Period::parse(a).map_err(|e| invalid(name, capitalize(&e.to_string())))?);
        } else {
            return Err(invalid(name, format!("Sobra «{}»", shown(a))));
        }
    }
    Ok((period.unwrap_or(default), chart))
}

/// `/ranking`'s optional period (default month) and network (default Facebook), in either order.
fn period_and_network(name: &str, args: &[&str]) -> Result<(Period, Network), String> {
    let mut period = None;
    let mut network = None;
    for a in args {
        match (Period::parse(a), Network::parse(a)) {
            (Ok(p), _) if period.is_none() => period = Some(p),
            (_, Some(n)) if network.is_none() => network = Some(n),
            (Ok(_), _) | (_, Some(_)) => return Err(invalid(name, format!("Sobra «{}»", shown(a)))),
            (Err(_), None) => {
                return Err(invalid(
                    name,
                    format!(
                        "No entiendo «{}»: indica un periodo (hoy, semana, mes o 6meses) y, si quieres, una red (facebook, instagram o total)",
                        shown(a)
                    ),
                ));
            }
        }
    }
    Ok((period.unwrap_or(Period::Month), network.unwrap_or_default()))
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

fn no_args(name: &str, args: &[&str]) -> Result<(), String> {
    match args.first() {
        None => Ok(()),
        Some(a) => Err(invalid(
            name,
            format!("Este comando no lleva argumentos (sobra «{}»)", shown(a)),
        )),
    }
}

/// Agent name followed by optional period and chart words, e.g. `Juan Pérez mes grafico`.
fn name_period_chart(args: &[&str]) -> (String, Option<Period>, bool) {
    let mut end = args.len();
    let mut period = None;
    let mut chart = false;
    while end > 0 {
        let w = args[end - 1];
        if !chart && is_chart_word(w) {
            chart = true;
        } else if period.is_none()
            && let Ok(p) = Period::parse(w)
        {
            period = Some(p);
        } else {
            break;
        }
        end -= 1;
    }
    (args[..end].join(" "), period, chart)
}

const MAX_NAME_CHARS: usize = 80;

fn parse_args(name: &str, args: &[&str]) -> Result<Command, String> {
    Ok(match name {
        "actualizar" => match args {
            [] => Command::Actualizar { confirmed: false },
            [w] if matches!(w.to_lowercase().as_str(), "confirmar" | "si" | "sí") => {
                Command::Actualizar { confirmed: true }
            }
            [w, ..] => return Err(invalid(name, format!("No entiendo «{}»", shown(w)))),
        },
        "actualizar_agente" => {
            let agent = args.join(" ");
            if agent.chars().count() > MAX_NAME_CHARS {
                return Err(invalid(name, "El nombre del agente es demasiado largo"));
            }
            Command::ActualizarAgente {
                agent: (!agent.is_empty()).then_some(agent),
            }
        }
        "mis_metricas" => {
            let (period, chart) = period_and_chart(name, args, Period::Week, true)?;
            Command::MisMetricas { period, chart }
        }
        "metricas" => {
            let (agent, period, chart) = name_period_chart(args);
            if agent.is_empty() {
                return Err(invalid(name, "Falta el nombre del agente"));
            }
            if agent.chars().count() > MAX_NAME_CHARS {
                return Err(invalid(name, "El nombre del agente es demasiado largo"));
            }
            Command::Metricas {
                agent,
                period: period.unwrap_or(Period::Week),
                chart,
            }
        }
        "ranking" => {
            let (period, network) = period_and_network(name, args)?;
            Command::Ranking { period, network }
        }
        "resumen" => Command::Resumen {
            period: period_and_chart(name, args, Period::Month, false)?.0,
        },
        "exportar" => Command::Exportar {
            period: period_and_chart(name, args, Period::Month, false)?.0,
        },
        "estado" => {
            no_args(name, args)?;
            Command::Estado
        }
        "agentes" => {
            no_args(name, args)?;
            Command::Agentes
        }
        "conectar" => match args {
            [] => Command::Conectar {
                step: ConnectStep::Link,
            },
            [w] if matches!(w.to_lowercase().as_str(), "confirmar" | "si" | "sí") => Command::Conectar {
                step: ConnectStep::Confirm,
            },
            [n] => match n.parse::<usize>() {
                Ok(n) if (1..=50).contains(&n) => Command::Conectar {
                    step: ConnectStep::Choose(n),
                },
                _ => {
                    return Err(invalid(
                        name,
                        format!("«{}» no es un número de página de la lista", shown(n)),
                    ));
                }
            },
            _ => {
                return Err(invalid(
                    name,
                    "Escribe /conectar, /conectar confirmar o /conectar seguido del número de la página",
                ));
            }
        },
        "alertas" => {
            no_args(name, args)?;
            Command::Alertas
        }
        "ayuda" | "help" | "comandos" => Command::Ayuda,
        "vincular" => match args {
            [code] if valid_code(code) => Command::Vincular {
                code: code.to_uppercase(),
            },
            [] => return Err(invalid(name, "Falta el código que te dio tu admin")),
            [_] => return Err(invalid(name, "El código no tiene el formato esperado")),
            _ => return Err(invalid(name, "Escribe solo el código, sin espacios")),
        },
        "silenciar" => match args {
            [alert, duration] => {
                if alert.chars().count() > 64 || !alert.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-') {
                    return Err(invalid(name, format!("Nombre de alerta no válido «{}»", shown(alert))));
                }
                let duration = parse_duration(duration).map_err(|e| invalid(name, e))?;
                Command::Silenciar {
                    alert: alert.to_string(),
                    duration,
                }
            }
            [] | [_] => return Err(invalid(name, "Faltan la alerta y la duración")),
            _ => return Err(invalid(name, "Sobran argumentos")),
        },
        "start" => Command::Start {
            payload: args.first().filter(|c| valid_code(c)).map(|c| c.to_uppercase()),
        },
        _ => {
            return Err(format!(
                "No conozco el comando /{}. Escribe /ayuda para ver los comandos.",
                shown(name)
            ));
        }
    })
}

/// Link codes: 4–64 characters of `[A-Za-z0-9_-]` (also a valid Telegram deep-link payload).
fn valid_code(code: &str) -> bool {
    (4..=64).contains(&code.len()) && code.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Longest silence accepted.
pub const MAX_SILENCE: Duration = Duration::from_secs(30 * 86_400);

/// "30m", "2h", "1d" (also "90min", "2 h" is not accepted: one word). At most 30 days.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let lower = s.to_lowercase();
    let split = lower.find(|c: char| !c.is_ascii_digit()).unwrap_or(lower.len());
    let (digits, unit) = lower.split_at(split);
    let bad = || format!("Duración no válida «{}»: usa por ejemplo 30m, 2h o 1d", shown(s));
    if digits.is_empty() || digits.len() > 6 {
        return Err(bad());
    }
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let secs = match unit {
        "m" | "min" | "mins" | "minutos" => 60,
        "h" | "hora" | "horas" => 3600,
        "d" | "dia" | "día" | "dias" | "días" => 86_400,
        _ => return Err(bad()),
    };
    let d = Duration::from_secs(n * secs);
    if d.is_zero() {
        return Err(bad());
    }
    if d > MAX_SILENCE {
        return Err("La duración máxima de un silencio es 30d".into());
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(s: &str) -> Command {
        match parse(s, Some("PulsoBot")) {
            ParseOutcome::Command(c) => c,
            other => panic!("{s}: {other:?}"),
        }
    }

    fn err(s: &str) -> String {
        match parse(s, Some("PulsoBot")) {
            ParseOutcome::Invalid(e) => e,
            other => panic!("{s}: {other:?}"),
        }
    }
    #[test]
    fn conectar_takes_an_optional_page_number() {
        assert_eq!(
            cmd("/conectar"),
            Command::Conectar {
                step: ConnectStep::Link
            }
        );
        assert_eq!(
            cmd("/conectar 2"),
            Command::Conectar {
                step: ConnectStep::Choose(2)
            }
        );
        assert_eq!(
            cmd("/conectar Confirmar"),
            Command::Conectar {
                step: ConnectStep::Confirm
            }
        );
        assert!(err("/conectar dos").contains("no es un número de página"));
        assert!(err("/conectar 0").contains("no es un número de página"));
        assert!(err("/conectar 1 2").contains("/conectar"));
    }

    #[test]
    fn defaults_and_aliases() {
        assert_eq!(
            cmd("/mis_metricas"),
            Command::MisMetricas {
                period: Period::Week,
                chart: false
            }
        );
        assert_eq!(
            cmd("/ranking"),
            Command::Ranking {
                period: Period::Month,
                network: Network::Facebook
            }
        );
        assert_eq!(cmd("/RESUMEN 7d"), Command::Resumen { period: Period::Week });
        assert_eq!(
            cmd("/exportar@pulsobot 180d"),
            Command::Exportar {
                period: Period::SixMonths
            }
        );
        assert_eq!(cmd("/actualizar confirmar"), Command::Actualizar { confirmed: true });
        assert_eq!(
            cmd("/mis_metricas gráfico mes"),
            Command::MisMetricas {
                period: Period::Month,
                chart: true
            }
        );
    }

    #[test]
    fn agent_names_keep_spaces_and_take_a_trailing_period() {
        assert_eq!(
            cmd("/metricas Juan Pérez mes"),
            Command::Metricas {
                agent: "Juan Pérez".into(),
                period: Period::Month,
                chart: false
            }
        );
        assert_eq!(
            cmd("/actualizar_agente Ana  García"),
            Command::ActualizarAgente {
                agent: Some("Ana García".into())
            }
        );
        assert!(err("/metricas").contains("Uso: /metricas <agente>"));
    }

    #[test]
    fn other_bots_and_plain_text() {
        assert_eq!(parse("/ranking@OtroBot", Some("PulsoBot")), ParseOutcome::OtherBot);
        assert_eq!(parse("hola", Some("PulsoBot")), ParseOutcome::NotCommand);
        assert!(err("/").contains("/ayuda"));
        assert!(err("/borrar_todo").contains("No conozco el comando /borrar_todo"));
    }

    #[test]
    fn bad_arguments_explain_the_usage() {
        assert!(err("/ranking año").contains("Uso: /ranking"));
        assert!(err("/estado ya").contains("no lleva argumentos"));
        assert!(err("/silenciar sync 99999999999d").contains("Duración no válida"));
        assert!(err("/silenciar sync 31d").contains("30d"));
        assert_eq!(
            cmd("/silenciar sync_fallos 2h"),
            Command::Silenciar {
                alert: "sync_fallos".into(),
                duration: Duration::from_secs(7200)
            }
        );
        assert!(err("/vincular").contains("Falta el código"));
        assert_eq!(
            cmd("/vincular abcd2345"),
            Command::Vincular {
                code: "ABCD2345".into()
            }
        );
    }

    #[test]
    fn ranking_takes_period_and_network_in_either_order() {
        let expected = Command::Ranking {
            period: Period::Week,
            network: Network::Instagram,
        };
        assert_eq!(cmd("/ranking semana instagram"), expected);
        assert_eq!(cmd("/ranking Instagram 7d"), expected);
        assert_eq!(
            cmd("/ranking total"),
            Command::Ranking {
                period: Period::Month,
                network: Network::Total
            }
        );
        let e = err("/ranking mes tiktok");
        assert!(e.contains("No entiendo «tiktok»"), "{e}");
        assert!(
            e.contains("Uso: /ranking [hoy|semana|mes|6meses] [facebook|instagram|total]"),
            "{e}"
        );
        assert!(err("/ranking mes semana").contains("Sobra «semana»"));
        assert!(err("/ranking instagram total").contains("Sobra «total»"));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86_400)));
        assert!(parse_duration("0h").is_err());
        assert!(parse_duration("h").is_err());
        assert!(parse_duration("-2h").is_err());
    }
}
