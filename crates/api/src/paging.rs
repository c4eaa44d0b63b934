//! Paging of lists the store hands over whole (workflows, schedules, task groups, the tasks
//! of an instance, users, projects, members, tokens, versions): the page after the cursor's
//! key or number, and the cursor of the next one.

use crate::ApiError;
use baton_api_model::{Cursor, PageQuery};

/// The page of `items` (sorted by `key`, ascending) that follows the query's cursor, with
/// the `next_cursor` to give out (none on the last page).
pub(crate) fn by_key<T>(
    items: Vec<T>,
    key: impl Fn(&T) -> String,
    query: &PageQuery,
) -> Result<(Vec<T>, Option<String>), ApiError> {
    let limit = page_len(query.limit()?);
    let after = query.cursor()?.map(Cursor::key).transpose()?;
    let rest = items
        .into_iter()
        .filter(|item| after.as_deref().is_none_or(|a| key(item).as_str() > a));
    Ok(first_page(rest, limit, |last| Cursor::Key(key(last))))
}

/// The page of `items` (sorted by `number`, largest, i.e. newest, first) that follows the
/// query's id cursor, with the `next_cursor` to give out (none on the last page).
pub(crate) fn newest_first<T>(
    items: Vec<T>,
    number: impl Fn(&T) -> i64,
    query: &PageQuery,
) -> Result<(Vec<T>, Option<String>), ApiError> {
    let limit = page_len(query.limit()?);
    let after = query.cursor()?.map(Cursor::id).transpose()?;
    let rest = items
        .into_iter()
        .filter(|item| after.is_none_or(|a| number(item) < a));
    Ok(first_page(rest, limit, |last| Cursor::Id(number(last))))
}

/// The page of a list the store read one past the page (`limit + 1` items after the cursor),
/// with the cursor of the next page, made from the page's last item, when more follow.
pub(crate) fn fetched<T>(
    items: Vec<T>,
    limit: u32,
    cursor_of: impl Fn(&T) -> Cursor,
) -> (Vec<T>, Option<String>) {
    first_page(items.into_iter(), page_len(limit), cursor_of)
}

/// The first `limit` of `rest` (the items after the cursor, in order), and the cursor of the
/// next page, made from the page's last item, when more follow.
fn first_page<T>(
    rest: impl Iterator<Item = T>,
    limit: usize,
    cursor_of: impl Fn(&T) -> Cursor,
) -> (Vec<T>, Option<String>) {
    let mut page: Vec<T> = rest.take(limit + 1).collect();
    let next = if page.len() > limit {
        page.truncate(limit);
        page.last().map(|last| cursor_of(last).encode())
    } else {
        None
    };
    (page, next)
}

/// For lists ordered by id: the cursor of the next page when `page` came back full.
pub(crate) fn next_by_id(page_len: usize, limit: u32, last_id: Option<i64>) -> Option<String> {
    (page_len >= self::page_len(limit))
        .then_some(last_id)
        .flatten()
        .map(|id| Cursor::Id(id).encode())
}

/// A page's length limit as a count of items (saturating: a limit is at most `MAX_LIMIT`
/// anyway), without an `as` cast that could wrap.
pub(crate) fn page_len(limit: u32) -> usize {
    usize::try_from(limit).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_pages_follow_each_other_to_the_end() {
        let items: Vec<String> = ["a", "b", "c", "d", "e"].map(String::from).to_vec();
        let mut query = PageQuery {
            cursor: None,
            limit: Some(2),
        };
        let mut seen = Vec::new();
        loop {
            let (page, next) = by_key(items.clone(), |s| s.clone(), &query).unwrap();
            seen.extend(page);
            match next {
                Some(c) => query.cursor = Some(c),
                None => break,
            }
        }
        assert_eq!(seen, items);
    }

    #[test]
    fn number_pages_follow_each_other_newest_first() {
        let items: Vec<i64> = vec![12, 10, 9, 3, 1];
        let mut query = PageQuery {
            cursor: None,
            limit: Some(2),
        };
        let mut pages = Vec::new();
        loop {
            let (page, next) = newest_first(items.clone(), |n| *n, &query).unwrap();
            pages.push(page);
            match next {
                Some(c) => query.cursor = Some(c),
                None => break,
            }
        }
        assert_eq!(pages, [vec![12, 10], vec![9, 3], vec![1]]);
    }

    #[test]
    fn a_key_cursor_is_refused_by_a_numbered_list() {
        let query = PageQuery {
            cursor: Some(Cursor::Key("a".into()).encode()),
            limit: None,
        };
        assert!(newest_first(vec![1_i64], |n| *n, &query).is_err());
    }
}
