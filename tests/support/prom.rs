//! A strict parser of the Prometheus text exposition format (version 0.0.4), enough to check that
//! `/metrics` is valid: HELP/TYPE comments, metric and label names, escaped label values, float
//! values with an optional timestamp, TYPE before samples and at most once per family, and
//! histogram buckets that are cumulative and end in `+Inf` = `_count`.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};

#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

fn is_metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn is_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !s.starts_with("__")
}

fn parse_value(s: &str) -> Result<f64, String> {
    match s {
        "+Inf" | "Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        _ => s.parse::<f64>().map_err(|e| format!("valor «{s}» inválido: {e}")),
    }
}

fn family_of<'a>(name: &'a str, types: &HashMap<String, String>) -> &'a str {
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix)
            && matches!(types.get(base).map(String::as_str), Some("histogram" | "summary"))
        {
            return base;
        }
    }
    name
}

pub fn parse(text: &str) -> Result<Vec<Sample>, String> {
    let mut samples = Vec::new();
    let mut types: HashMap<String, String> = HashMap::new();
    let mut seen_samples: std::collections::HashSet<String> = Default::default();
    for (n, line) in text.lines().enumerate() {
        let err = |m: String| format!("línea {}: {m}: «{line}»", n + 1);
        if line.trim().is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix('#') {
            let rest = rest.trim_start();
            let mut parts = rest.splitn(3, ' ');
            match parts.next() {
                Some("HELP") => {
                    let name = parts.next().ok_or_else(|| err("HELP sin nombre".into()))?;
                    if !is_metric_name(name) {
                        return Err(err("nombre inválido".into()));
                    }
                }
                Some("TYPE") => {
                    let name = parts.next().ok_or_else(|| err("TYPE sin nombre".into()))?;
                    let kind = parts.next().ok_or_else(|| err("TYPE sin tipo".into()))?;
                    if !is_metric_name(name) {
                        return Err(err("nombre inválido".into()));
                    }
                    if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind) {
                        return Err(err(format!("tipo {kind} desconocido")));
                    }
                    if types.insert(name.to_string(), kind.to_string()).is_some() {
                        return Err(err("TYPE repetido".into()));
                    }
                    if seen_samples.contains(name) {
                        return Err(err("TYPE después de las muestras".into()));
                    }
                }
                _ => {}
            }
            continue;
        }
        let (name_end, has_labels) = match line.find(['{', ' ']) {
            Some(i) => (i, line.as_bytes()[i] == b'{'),
            None => return Err(err("muestra sin valor".into())),
        };
        let name = &line[..name_end];
        if !is_metric_name(name) {
            return Err(err("nombre de métrica inválido".into()));
        }
        let mut labels = BTreeMap::new();
        let mut rest = &line[name_end..];
        if has_labels {
            rest = &rest[1..];
            loop {
                rest = rest.trim_start();
                if let Some(r) = rest.strip_prefix('}') {
                    rest = r;
                    break;
                }
                let eq = rest.find('=').ok_or_else(|| err("etiqueta sin =".into()))?;
                let label = rest[..eq].trim();
                if !is_label_name(label) {
                    return Err(err(format!("etiqueta «{label}» inválida")));
                }
                rest = rest[eq + 1..]
                    .strip_prefix('"')
                    .ok_or_else(|| err("valor sin comillas".into()))?;
                let mut value = String::new();
                let mut chars = rest.char_indices();
                let end = loop {
                    match chars.next() {
                        Some((_, '\\')) => match chars.next() {
                            Some((_, '\\')) => value.push('\\'),
                            Some((_, '"')) => value.push('"'),
                            Some((_, 'n')) => value.push('\n'),
                            _ => return Err(err("escape inválido".into())),
                        },
                        Some((i, '"')) => break i,
                        Some((_, '\n')) | None => return Err(err("valor sin cerrar".into())),
                        Some((_, c)) => value.push(c),
                    }
                };
                if labels.insert(label.to_string(), value).is_some() {
                    return Err(err("etiqueta repetida".into()));
                }
                rest = &rest[end + 1..];
                rest = rest.trim_start();
                if let Some(r) = rest.strip_prefix(',') {
                    rest = r;
                } else if !rest.starts_with('}') {
                    return Err(err("se esperaba , o }".into()));
                }
            }
        }
        let mut fields = rest.split_whitespace();
        let value = parse_value(fields.next().ok_or_else(|| err("sin valor".into()))?).map_err(&err)?;
        if let Some(ts) = fields.next() {
            ts.parse::<i64>().map_err(|_| err("marca de tiempo inválida".into()))?;
        }
        if fields.next().is_some() {
            return Err(err("sobra texto".into()));
        }
        let family = family_of(name, &types).to_string();
        if !types.contains_key(&family) {
            return Err(err(format!("muestra de {family} sin TYPE")));
        }
        seen_samples.insert(family);
        samples.push(Sample {
            name: name.to_string(),
            labels,
            value,
        });
    }
    check_histograms(&samples, &types)?;
    Ok(samples)
}

fn check_histograms(samples: &[Sample], types: &HashMap<String, String>) -> Result<(), String> {
    for (family, _) in types.iter().filter(|(_, k)| *k == "histogram") {
        let mut series: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
        for s in samples.iter().filter(|s| s.name == format!("{family}_bucket")) {
            let le = parse_value(s.labels.get("le").ok_or("bucket sin le")?)?;
            let mut key = s.labels.clone();
            key.remove("le");
            series.entry(format!("{key:?}")).or_default().push((le, s.value));
        }
        for (key, buckets) in series {
            let mut prev = (f64::NEG_INFINITY, 0.0);
            for &(le, v) in &buckets {
                if le <= prev.0 || v < prev.1 {
                    return Err(format!("{family}{key}: cubetas no acumulativas"));
                }
                prev = (le, v);
            }
            if prev.0 != f64::INFINITY {
                return Err(format!("{family}{key}: falta la cubeta +Inf"));
            }
            let count = samples
                .iter()
                .find(|s| s.name == format!("{family}_count") && format!("{:?}", s.labels) == key)
                .ok_or(format!("{family}{key}: falta _count"))?;
            if count.value != prev.1 {
                return Err(format!("{family}{key}: +Inf ≠ _count"));
            }
        }
    }
    Ok(())
}

/// Sum of the samples named `name` whose labels include `labels` (0 when none).
pub fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
        .sum()
}
