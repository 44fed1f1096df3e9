//! The fields of one JSON object that the table's columns take, parsed in one pass: keys are
//! borrowed from the payload and matched against the column names, fields no column takes are
//! skipped without being built, and no map of the whole object is made.

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;
use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

/// Which columns (by index) a field name fills: exactly, or as the lowercase form of the
/// column's name (used only when no field has the column's exact name).
#[derive(Clone, Debug, Default)]
pub(crate) struct FieldKeys {
    /// Looked up once per field of every message: a fast hasher (the names are the table's
    /// columns, not the sender's, so there is nothing to flood).
    by_name: HashMap<String, Vec<(usize, bool)>, foldhash::fast::RandomState>,
    columns: usize,
    /// Some column has a lowercase alternative.
    any_lower: bool,
}

impl FieldKeys {
    /// `names[i]`: the column's exact name and its lowercase alternative, for field columns.
    pub(crate) fn new(names: &[Option<(&str, Option<&str>)>]) -> FieldKeys {
        let mut by_name: HashMap<String, Vec<(usize, bool)>, foldhash::fast::RandomState> = HashMap::default();
        let mut any_lower = false;
        for (i, n) in names.iter().enumerate() {
            if let Some((exact, lower)) = n {
                by_name.entry(exact.to_string()).or_default().push((i, true));
                if let Some(l) = lower {
                    by_name.entry(l.to_string()).or_default().push((i, false));
                    any_lower = true;
                }
            }
        }
        FieldKeys { by_name, columns: names.len(), any_lower }
    }

    /// The value of each column's field (None: absent), or why the payload is not a JSON object.
    pub(crate) fn parse(&self, payload: &[u8]) -> Result<Vec<Option<Value>>, String> {
        let lower = if self.any_lower { vec![None; self.columns] } else { Vec::new() };
        let mut slots = Slots { exact: vec![None; self.columns], lower, not_object: None };
        let mut de = serde_json::Deserializer::from_slice(payload);
        let parsed = de.deserialize_any(ObjectVisitor { keys: self, slots: &mut slots }).and_then(|()| de.end());
        if let Some(what) = slots.not_object {
            return Err(format!("expected a JSON object, got {what}"));
        }
        parsed.map_err(|e| format!("invalid JSON: {e}"))?;
        let mut values = slots.exact;
        for (e, l) in values.iter_mut().zip(slots.lower) {
            if e.is_none() {
                *e = l;
            }
        }
        Ok(values)
    }
}

struct Slots {
    exact: Vec<Option<Value>>,
    lower: Vec<Option<Value>>,
    /// What the payload was instead of an object.
    not_object: Option<&'static str>,
}

struct ObjectVisitor<'k, 's> {
    keys: &'k FieldKeys,
    slots: &'s mut Slots,
}

impl Slots {
    fn slot(&mut self, i: usize, exact: bool) -> &mut Option<Value> {
        if exact { &mut self.exact[i] } else { &mut self.lower[i] }
    }
}

impl ObjectVisitor<'_, '_> {
    fn not_object<E: de::Error>(self, what: &'static str) -> Result<(), E> {
        self.slots.not_object = Some(what);
        Err(E::custom("not an object"))
    }
}

impl<'de> Visitor<'de> for ObjectVisitor<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<Key<'de>>()? {
            match self.keys.by_name.get(key.0.as_ref()) {
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
                Some(targets) => {
                    let v: Value = map.next_value()?;
                    // A repeated key: the last one wins, as with a map.
                    if let [(first, exact), rest @ ..] = targets.as_slice() {
                        for &(i, exact) in rest {
                            *self.slots.slot(i, exact) = Some(v.clone());
                        }
                        *self.slots.slot(*first, *exact) = Some(v);
                    }
                }
            }
        }
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.not_object("null")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.not_object("a boolean")
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.not_object("a number")
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.not_object("a number")
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.not_object("a number")
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.not_object("a string")
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        self.not_object("an array")
    }
    fn visit_borrowed_str<E: de::Error>(self, _: &'de str) -> Result<(), E> {
        self.not_object("a string")
    }
}

/// A key, borrowed from the payload unless it has escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field name")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(v.to_string())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> FieldKeys {
        // Columns: 0 `id`, 1 metadata (no field), 2 `Name` (also takes `name`), 3 `name`.
        FieldKeys::new(&[Some(("id", None)), None, Some(("Name", Some("name"))), Some(("name", None))])
    }

    #[test]
    fn exact_names_win_over_lowercase_and_the_last_repeated_key_wins() {
        let got = keys().parse(br#"{"id":1,"skip":{"deep":[1,2,{"x":null}]},"name":"low","Name":"exact","id":2}"#);
        let got = got.unwrap();
        assert_eq!(got[0], Some(Value::from(2)));
        assert_eq!(got[1], None);
        assert_eq!(got[2], Some(Value::from("exact")));
        assert_eq!(got[3], Some(Value::from("low")));
        let got = keys().parse(br#"{"name":"only-lower"}"#).unwrap();
        assert_eq!(
            (got[2].clone(), got[3].clone()),
            (Some(Value::from("only-lower")), Some(Value::from("only-lower")))
        );
    }

    #[test]
    fn non_objects_and_invalid_json_anywhere_are_refused_with_the_reason() {
        let k = keys();
        assert_eq!(k.parse(b"[1,2]").unwrap_err(), "expected a JSON object, got an array");
        assert_eq!(k.parse(br#""text""#).unwrap_err(), "expected a JSON object, got a string");
        assert_eq!(k.parse(b"null").unwrap_err(), "expected a JSON object, got null");
        // A field no column takes is skipped, but still has to be valid JSON.
        let e = k.parse(br#"{"id":1,"skip":{"a":tru}}"#).unwrap_err();
        assert!(e.starts_with("invalid JSON: "), "{e}");
        let e = k.parse(br#"{"id":1} trailing"#).unwrap_err();
        assert!(e.starts_with("invalid JSON: "), "{e}");
    }
}
