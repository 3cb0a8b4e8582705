//! Forgiving serde building blocks: a field of the wrong JSON type reads as absent instead of
//! failing the whole document, and unknown fields are skipped without being built. Typed parsing
//! with these is several times faster than going through `serde_json::Value`.

use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// A count: integers, floats (rounded) and numeric strings; anything else is `None`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Num(pub Option<i64>);

/// The one lenient count parser, for an already parsed JSON value (the same rules as [`Num`]).
pub fn count(v: &serde_json::Value) -> Option<i64> {
    Num::deserialize(v).ok().and_then(|n| n.0)
}

/// A string; anything else is `None`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Str(pub Option<String>);

/// An object read as `T`; anything else is `None`.
#[derive(Debug, Clone, PartialEq)]
pub struct Obj<T>(pub Option<T>);

/// An array of `T`; anything else is `None`.
#[derive(Debug, Clone, PartialEq)]
pub struct List<T>(pub Option<Vec<T>>);

impl<T> Default for Obj<T> {
    fn default() -> Self {
        Obj(None)
    }
}

impl<T> Default for List<T> {
    fn default() -> Self {
        List(None)
    }
}

/// Drains whatever container was opened so the parser stays in step.
fn drain_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<IgnoredAny>()?.is_some() {}
    Ok(())
}

fn drain_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(())
}

/// Implements the "anything else" arms of a visitor as `Ok(default)`.
macro_rules! ignore_other_types {
    ($($method:ident: $ty:ty),*) => {
        $(fn $method<E: serde::de::Error>(self, _: $ty) -> Result<Self::Value, E> { Ok(Default::default()) })*
    };
}

struct NumVisitor;

impl<'de> Visitor<'de> for NumVisitor {
    type Value = Num;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Num, E> {
        Ok(Num(Some(v)))
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Num, E> {
        Ok(Num(i64::try_from(v).ok()))
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Num, E> {
        Ok(Num(v.is_finite().then(|| v.round() as i64)))
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Num, E> {
        let v = v.trim();
        let n = v.parse::<i64>().ok().or_else(|| {
            v.parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .map(|f| f.round() as i64)
        });
        Ok(Num(n))
    }
    ignore_other_types!(visit_bool: bool, visit_bytes: &[u8]);
    fn visit_unit<E: serde::de::Error>(self) -> Result<Num, E> {
        Ok(Num(None))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Num, A::Error> {
        drain_seq(seq).map(|_| Num(None))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Num, A::Error> {
        drain_map(map).map(|_| Num(None))
    }
}

impl<'de> Deserialize<'de> for Num {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NumVisitor)
    }
}

struct StrVisitor;

impl<'de> Visitor<'de> for StrVisitor {
    type Value = Str;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Str, E> {
        Ok(Str(Some(v.to_string())))
    }
    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Str, E> {
        Ok(Str(Some(v)))
    }
    ignore_other_types!(visit_bool: bool, visit_i64: i64, visit_u64: u64, visit_f64: f64, visit_bytes: &[u8]);
    fn visit_unit<E: serde::de::Error>(self) -> Result<Str, E> {
        Ok(Str(None))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Str, A::Error> {
        drain_seq(seq).map(|_| Str(None))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Str, A::Error> {
        drain_map(map).map(|_| Str(None))
    }
}

impl<'de> Deserialize<'de> for Str {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrVisitor)
    }
}

struct ObjVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjVisitor<T> {
    type Value = Obj<T>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Obj<T>, A::Error> {
        T::deserialize(MapAccessDeserializer::new(map)).map(|t| Obj(Some(t)))
    }
    ignore_other_types!(visit_bool: bool, visit_i64: i64, visit_u64: u64, visit_f64: f64, visit_str: &str, visit_bytes: &[u8]);
    fn visit_unit<E: serde::de::Error>(self) -> Result<Obj<T>, E> {
        Ok(Obj(None))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Obj<T>, A::Error> {
        drain_seq(seq).map(|_| Obj(None))
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ObjVisitor(PhantomData))
    }
}

struct ListVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for ListVisitor<T> {
    type Value = List<T>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<List<T>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(item) = seq.next_element::<T>()? {
            items.push(item);
        }
        Ok(List(Some(items)))
    }
    ignore_other_types!(visit_bool: bool, visit_i64: i64, visit_u64: u64, visit_f64: f64, visit_str: &str, visit_bytes: &[u8]);
    fn visit_unit<E: serde::de::Error>(self) -> Result<List<T>, E> {
        Ok(List(None))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<List<T>, A::Error> {
        drain_map(map).map(|_| List(None))
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ListVisitor(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct Sample {
        n: Num,
        s: Str,
        o: Obj<Inner>,
        l: List<Num>,
    }

    #[derive(Deserialize, Default, Debug, PartialEq)]
    #[serde(default)]
    struct Inner {
        x: Num,
    }

    #[test]
    fn wrong_types_read_as_absent() {
        let s: Sample =
            serde_json::from_str(r#"{"n":"12","s":5,"o":[1,{"a":2}],"l":{"k":[]},"extra":{"deep":[1,2]}}"#).unwrap();
        assert_eq!((s.n, s.s, s.o.0, s.l.0), (Num(Some(12)), Str(None), None, None));
        let s: Sample = serde_json::from_str(r#"{"n":1.6,"s":"ñ","o":{"x":{"y":1}},"l":[1,"2",null,true]}"#).unwrap();
        assert_eq!(s.n, Num(Some(2)));
        assert_eq!(s.s.0.as_deref(), Some("ñ"));
        assert_eq!(s.o.0, Some(Inner { x: Num(None) }));
        assert_eq!(s.l.0.unwrap(), vec![Num(Some(1)), Num(Some(2)), Num(None), Num(None)]);
    }
}
