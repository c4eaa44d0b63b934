//! Paging: every list answer carries `next_cursor`, an opaque string that the next call passes
//! as `?cursor=`; `?limit=` bounds the page (default [`DEFAULT_LIMIT`], at most [`MAX_LIMIT`]).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};

/// The page size when `limit` is not given.
pub const DEFAULT_LIMIT: u32 = 100;
/// The largest page.
pub const MAX_LIMIT: u32 = 1000;

/// `?cursor=…&limit=N` of a list endpoint.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// The `next_cursor` of the previous page; without it, the first page.
    pub cursor: Option<String>,
    /// At most this many items (default 100, at most 1000).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

impl PageQuery {
    /// The page size asked for, checked against the bounds.
    pub fn limit(&self) -> Result<u32, CursorError> {
        match self.limit {
            None => Ok(DEFAULT_LIMIT),
            Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            Some(n) => Err(CursorError::Limit(n)),
        }
    }

    /// The position the page starts after, if a cursor was given.
    pub fn cursor(&self) -> Result<Option<Cursor>, CursorError> {
        self.cursor
            .as_deref()
            .filter(|c| !c.is_empty())
            .map(Cursor::decode)
            .transpose()
    }
}

/// Where a page ended: the last item's key. Lists ordered by id use [`Cursor::Id`], lists
/// ordered by name [`Cursor::Key`]. Clients see only its encoded form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cursor {
    /// The id of the last item of the page.
    Id(i64),
    /// The sort key of the last item of the page.
    Key(String),
    /// The id of the last item of a page read forwards (oldest first, as after `?after=`).
    After(i64),
}

/// A `cursor` or `limit` that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CursorError {
    /// Not a cursor this server gave out.
    #[error("bad cursor `{0}`: pass the `next_cursor` of a previous answer unchanged")]
    Bad(String),
    /// A cursor of another kind of list.
    #[error("cursor `{0}` belongs to another list")]
    OtherList(String),
    /// `limit` out of bounds.
    #[error("`limit` must be between 1 and 1000, not {0}")]
    Limit(u32),
}

impl Cursor {
    /// The opaque text given out as `next_cursor`.
    pub fn encode(&self) -> String {
        let plain = match self {
            Cursor::Id(id) => format!("i:{id}"),
            Cursor::Key(key) => format!("k:{key}"),
            Cursor::After(id) => format!("a:{id}"),
        };
        URL_SAFE_NO_PAD.encode(plain)
    }

    /// Reads a cursor given back by a client.
    pub fn decode(text: &str) -> Result<Cursor, CursorError> {
        let bad = || CursorError::Bad(text.to_string());
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| bad())?;
        let plain = String::from_utf8(bytes).map_err(|_| bad())?;
        if let Some(id) = plain.strip_prefix("i:") {
            return id.parse().map(Cursor::Id).map_err(|_| bad());
        }
        if let Some(id) = plain.strip_prefix("a:") {
            return id.parse().map(Cursor::After).map_err(|_| bad());
        }
        match plain.strip_prefix("k:") {
            Some(key) => Ok(Cursor::Key(key.to_string())),
            None => Err(bad()),
        }
    }

    /// The id of an id cursor; a key cursor is refused.
    pub fn id(self) -> Result<i64, CursorError> {
        match self {
            Cursor::Id(id) => Ok(id),
            Cursor::Key(_) | Cursor::After(_) => Err(CursorError::OtherList(self.encode())),
        }
    }

    /// The key of a key cursor; an id cursor is refused.
    pub fn key(self) -> Result<String, CursorError> {
        match self {
            Cursor::Key(key) => Ok(key),
            Cursor::Id(_) | Cursor::After(_) => Err(CursorError::OtherList(self.encode())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_bad_ones_are_refused() {
        for c in [
            Cursor::Id(42),
            Cursor::Key("demo/etl".into()),
            Cursor::After(7),
        ] {
            assert_eq!(Cursor::decode(&c.encode()), Ok(c));
        }
        assert_eq!(
            Cursor::decode("!!"),
            Err(CursorError::Bad("!!".into())),
            "not base64"
        );
        assert!(Cursor::Key("x".into()).id().is_err());
        let q = PageQuery {
            cursor: None,
            limit: Some(0),
        };
        assert_eq!(q.limit(), Err(CursorError::Limit(0)));
        assert_eq!(PageQuery::default().limit(), Ok(DEFAULT_LIMIT));
    }
}
