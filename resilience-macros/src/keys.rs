//! Unknown keys: every attribute lists its valid keys and suggests the nearest one.

use darling::ast::NestedMeta;

/// Fails on the first key of `items` that is not in `keys`, naming the valid ones.
pub(crate) fn check_keys(
    attribute: &str,
    items: &[NestedMeta],
    keys: &[&str],
) -> darling::Result<()> {
    let mut errors = darling::Error::accumulator();
    for item in items {
        let path = match item {
            NestedMeta::Meta(meta) => meta.path(),
            NestedMeta::NameValueInvalidExpr(invalid) => &invalid.path,
            NestedMeta::Lit(lit) => {
                errors.push(
                    darling::Error::custom(format!(
                        "`#[{attribute}]` takes `key = value` arguments; expected one of: {}",
                        list(keys)
                    ))
                    .with_span(&lit.span()),
                );
                continue;
            }
        };
        let key = path
            .get_ident()
            .map(ToString::to_string)
            .unwrap_or_else(|| quote::quote!(#path).to_string());
        if !keys.contains(&key.as_str()) {
            let suggestion = nearest(&key, keys)
                .map(|near| format!("did you mean `{near}`? "))
                .unwrap_or_default();
            errors.push(
                darling::Error::custom(format!(
                    "unknown key `{key}` for `#[{attribute}]`: {suggestion}expected one of: {}",
                    list(keys)
                ))
                .with_span(path),
            );
        }
    }
    errors.finish()
}

fn list(keys: &[&str]) -> String {
    keys.iter()
        .map(|key| format!("`{key}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn nearest<'a>(key: &str, keys: &[&'a str]) -> Option<&'a str> {
    // Nearest by edit distance; ties go to the longest common prefix (`max_retry` is as far
    // from `max_delay` as from `max_retries`, but clearly meant the latter).
    keys.iter()
        .map(|candidate| {
            let prefix = key
                .chars()
                .zip(candidate.chars())
                .take_while(|(a, b)| a == b)
                .count();
            (
                levenshtein(key, candidate),
                std::cmp::Reverse(prefix),
                *candidate,
            )
        })
        .filter(|(distance, _, candidate)| *distance <= (candidate.len() / 3).max(2))
        .min()
        .map(|(_, _, candidate)| candidate)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let current = row[j + 1];
            row[j + 1] = (previous + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(current + 1);
            previous = current;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_the_nearest_key() {
        let keys = ["max_failures", "reset_timeout", "name"];
        assert_eq!(nearest("max_failure", &keys), Some("max_failures"));
        assert_eq!(nearest("rest_timeout", &keys), Some("reset_timeout"));
        assert_eq!(nearest("colour", &keys), None);
        let retry = ["max_retries", "max_delay"];
        assert_eq!(nearest("max_retry", &retry), Some("max_retries"));
    }
}
