//! Topic filters with named segments, and reply topics.
//!
//! A filter is MQTT's, with names: a level `{name}` matches one level like
//! `+` and puts it in `pathParameters` under `name`; a last level `{*name}`
//! matches the rest like `#` and puts the rest (levels joined by `/`) under
//! `name`. Plain `+` and `#` work as usual, unnamed. A filter may start
//! with `$share/<group>/` so that several fenn devices split one stream.
//!
//! Everything is checked when the config loads: `+`, `#` and names must be
//! whole levels, `#` and `{*name}` must be last, names must be unique, and a
//! reply topic may not match the filter it answers (the function would
//! trigger itself forever).

use crate::loops::{Pattern, intersects};
use fenn_abi::Map;

/// Whether `topic` is one a message can be published to: not empty, no
/// wildcard, no NUL, not a shared-subscription filter.
pub fn is_plain_topic(topic: &str) -> bool {
    !topic.is_empty() && !topic.contains(['+', '#', '\0']) && !topic.starts_with("$share/")
}

/// Why a filter or reply topic was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicError {
    /// The filter is not valid.
    #[error("topic filter '{filter}': {reason}")]
    Filter {
        /// The filter as written.
        filter: String,
        /// What is wrong.
        reason: String,
    },
    /// The reply topic is not valid, or feeds back into its subscription.
    #[error("reply topic '{reply}': {reason}")]
    Reply {
        /// The reply topic as written.
        reply: String,
        /// What is wrong.
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Level {
    Exact(String),
    One(Option<String>),
    Rest(Option<String>),
}

/// A subscription: what is sent to the broker, and how topics match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicFilter {
    written: String,
    share: Option<String>,
    levels: Vec<Level>,
}

impl TopicFilter {
    /// Parses a filter such as `sensors/{room}/temp` or `$share/g/a/#`.
    ///
    /// # Errors
    ///
    /// [`TopicError::Filter`] naming what is wrong.
    pub fn parse(written: &str) -> Result<Self, TopicError> {
        let fail = |reason: &str| TopicError::Filter {
            filter: written.to_owned(),
            reason: reason.to_owned(),
        };
        let (share, rest) = split_share(written).map_err(fail)?;
        if rest.is_empty() {
            return Err(fail("the filter is empty"));
        }
        if rest.contains('\0') {
            return Err(fail("a topic cannot contain NUL"));
        }
        let parts: Vec<&str> = rest.split('/').collect();
        let mut levels = Vec::with_capacity(parts.len());
        let mut names: Vec<&str> = Vec::new();
        for (index, part) in parts.iter().enumerate() {
            let last = index + 1 == parts.len();
            levels.push(parse_level(part, last, &mut names).map_err(fail)?);
        }
        Ok(Self {
            written: written.to_owned(),
            share,
            levels,
        })
    }

    /// The filter as the config wrote it.
    pub fn as_written(&self) -> &str {
        &self.written
    }

    /// What to subscribe to at the broker: names become `+` and `#`, and a
    /// shared subscription keeps its `$share/<group>/` prefix.
    pub fn subscription(&self) -> String {
        let filter = self.wildcard_filter();
        match &self.share {
            Some(group) => format!("$share/{group}/{filter}"),
            None => filter,
        }
    }

    fn wildcard_filter(&self) -> String {
        let levels: Vec<&str> = self
            .levels
            .iter()
            .map(|level| match level {
                Level::Exact(text) => text.as_str(),
                Level::One(_) => "+",
                Level::Rest(_) => "#",
            })
            .collect();
        levels.join("/")
    }

    /// Matches a topic, returning its named segments, or `None` if the
    /// filter does not match. Topics starting with `$` are matched only by
    /// a filter that names that first level exactly (MQTT's rule).
    pub fn matches(&self, topic: &str) -> Option<Map> {
        let parts: Vec<&str> = topic.split('/').collect();
        if topic.starts_with('$') && !matches!(self.levels.first(), Some(Level::Exact(_))) {
            return None;
        }
        let mut parameters = Map::new();
        for (index, level) in self.levels.iter().enumerate() {
            match level {
                Level::Exact(text) => {
                    if parts.get(index) != Some(&text.as_str()) {
                        return None;
                    }
                }
                Level::One(name) => {
                    let part = parts.get(index)?;
                    if let Some(name) = name {
                        parameters.insert(name.clone(), (*part).to_owned());
                    }
                }
                Level::Rest(name) => {
                    // '#' also matches the parent level itself ("a/#" matches "a").
                    if let Some(name) = name {
                        let rest = parts
                            .get(index..)
                            .map(|rest| rest.join("/"))
                            .unwrap_or_default();
                        parameters.insert(name.clone(), rest);
                    }
                    return Some(parameters);
                }
            }
        }
        (parts.len() == self.levels.len()).then_some(parameters)
    }

    /// The topics the filter matches, as a pattern.
    pub(crate) fn pattern(&self) -> Vec<Pattern> {
        self.levels
            .iter()
            .map(|level| match level {
                Level::Exact(text) => Pattern::Exact(text.clone()),
                Level::One(_) => Pattern::One,
                Level::Rest(_) => Pattern::Many,
            })
            .collect()
    }

    /// The names of the filter's named segments.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.levels.iter().filter_map(|level| match level {
            Level::One(Some(name)) | Level::Rest(Some(name)) => Some(name.as_str()),
            _ => None,
        })
    }
}

/// The share group of a `$share/<group>/<filter>`, if it is one, and
/// the filter; or why it is not a valid shared subscription.
fn split_share(written: &str) -> Result<(Option<String>, &str), &'static str> {
    let Some(shared) = written.strip_prefix("$share/") else {
        return Ok((None, written));
    };
    let (group, rest) = shared
        .split_once('/')
        .ok_or("a shared subscription is $share/<group>/<filter>")?;
    if group.is_empty() || group.contains(['+', '#', '{', '}']) {
        return Err("the share group must be a plain, non-empty name");
    }
    Ok((Some(group.to_owned()), rest))
}

/// One level of a filter (`last` when it ends the filter), the names of
/// the segments before it in `names`; or what is wrong with it.
fn parse_level<'a>(
    part: &'a str,
    last: bool,
    names: &mut Vec<&'a str>,
) -> Result<Level, &'static str> {
    Ok(match part {
        "+" => Level::One(None),
        "#" if last => Level::Rest(None),
        "#" => return Err("'#' must be the last level"),
        braced if braced.starts_with('{') && braced.ends_with('}') => {
            parse_named(&braced[1..braced.len() - 1], last, names)?
        }
        plain if plain.contains(['+', '#', '{', '}']) => {
            return Err("'+', '#' and {names} must be whole levels");
        }
        plain => Level::Exact(plain.to_owned()),
    })
}

/// A named level, `{name}` or `{*name}` without its braces; or what is
/// wrong with it.
fn parse_named<'a>(
    inner: &'a str,
    last: bool,
    names: &mut Vec<&'a str>,
) -> Result<Level, &'static str> {
    let (rest_level, name) = match inner.strip_prefix('*') {
        Some(name) => (true, name),
        None => (false, inner),
    };
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err("a segment name is letters, digits or '_', as in {room}");
    }
    if names.contains(&name) {
        return Err("a segment name is used twice");
    }
    names.push(name);
    if rest_level && !last {
        return Err("'{*name}' must be the last level");
    }
    Ok(if rest_level {
        Level::Rest(Some(name.to_owned()))
    } else {
        Level::One(Some(name.to_owned()))
    })
}

/// A reply topic such as `sensors/{room}/temp/result`, filled from the
/// named segments of the topic that triggered the function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyTemplate {
    written: String,
}

impl ReplyTemplate {
    /// The template as the config wrote it.
    pub fn as_written(&self) -> &str {
        &self.written
    }

    /// Checks `reply` against the filter it answers: every `{name}` it uses
    /// must be one of the filter's, it may not contain wildcards, and no
    /// topic it can produce may match the filter (a loop).
    ///
    /// # Errors
    ///
    /// [`TopicError::Reply`] naming what is wrong.
    pub fn new(reply: &str, filter: &TopicFilter) -> Result<Self, TopicError> {
        let fail = |reason: String| TopicError::Reply {
            reply: reply.to_owned(),
            reason,
        };
        if !is_plain_topic(reply) {
            return Err(fail(
                "a reply topic is a plain topic, without wildcards".into(),
            ));
        }
        let known: Vec<&str> = filter.names().collect();
        let mut rest = reply;
        while let Some(open) = rest.find('{') {
            let close = rest[open..]
                .find('}')
                .ok_or_else(|| fail("an unclosed '{'".into()))?;
            let name = &rest[open + 1..open + close];
            if !known.contains(&name) {
                return Err(fail(format!(
                    "{{{name}}} is not a named segment of '{}'",
                    filter.as_written()
                )));
            }
            rest = &rest[open + close + 1..];
        }
        let template = Self {
            written: reply.to_owned(),
        };
        // A loop: could some values of the names make the reply a topic
        // the filter matches? Read the reply as a pattern and intersect.
        if intersects(&template.pattern(filter), &filter.pattern()) {
            return Err(fail(format!(
                "it would match '{}' again: the function would trigger itself",
                filter.as_written()
            )));
        }
        Ok(template)
    }

    /// The topics this template can give, as a pattern: a level that uses
    /// a name is any level, or any run of levels when the name is one of
    /// `filter`'s `{*name}` tails.
    pub(crate) fn pattern(&self, filter: &TopicFilter) -> Vec<Pattern> {
        let rest_names: Vec<String> = filter
            .levels
            .iter()
            .filter_map(|level| match level {
                Level::Rest(Some(name)) => Some(format!("{{{name}}}")),
                _ => None,
            })
            .collect();
        self.written
            .split('/')
            .map(|part| {
                if rest_names.iter().any(|name| part.contains(name.as_str())) {
                    Pattern::Many
                } else if part.contains('{') {
                    Pattern::One
                } else {
                    Pattern::Exact(part.to_owned())
                }
            })
            .collect()
    }

    /// The reply topic for a message whose named segments are `parameters`.
    pub fn render(&self, parameters: &Map) -> String {
        Self::fill_with(&self.written, |name| {
            parameters.get(name).cloned().unwrap_or_default()
        })
    }

    fn fill_with(template: &str, mut value: impl FnMut(&str) -> String) -> String {
        let mut out = String::with_capacity(template.len());
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            match rest[open..].find('}') {
                Some(close) => {
                    out.push_str(&value(&rest[open + 1..open + close]));
                    rest = &rest[open + close + 1..];
                }
                None => {
                    out.push_str(&rest[open..]);
                    rest = "";
                }
            }
        }
        out.push_str(rest);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(text: &str) -> TopicFilter {
        TopicFilter::parse(text).unwrap()
    }

    #[test]
    fn named_segments_subscribe_as_wildcards_and_fill_path_parameters() {
        let f = filter("sensors/{room}/temp");
        assert_eq!(f.subscription(), "sensors/+/temp");
        let params = f.matches("sensors/kitchen/temp").unwrap();
        assert_eq!(params["room"], "kitchen");
        assert!(f.matches("sensors/kitchen/humidity").is_none());
        assert!(f.matches("sensors/kitchen/temp/extra").is_none());
        assert!(f.matches("sensors/temp").is_none());
    }

    #[test]
    fn tails_match_the_rest_and_the_parent_level() {
        let named = filter("devices/{id}/{*rest}");
        assert_eq!(named.subscription(), "devices/+/#");
        let params = named.matches("devices/7/a/b/c").unwrap();
        assert_eq!(
            (params["id"].as_str(), params["rest"].as_str()),
            ("7", "a/b/c")
        );
        assert_eq!(named.matches("devices/7").unwrap()["rest"], "");
        let plain = filter("logs/#");
        assert!(plain.matches("logs").is_some());
        assert!(plain.matches("logs/x/y").unwrap().is_empty());
        assert!(plain.matches("other/x").is_none());
    }

    #[test]
    fn shared_subscriptions_keep_their_group_and_match_the_plain_topic() {
        let f = filter("$share/fleet/sensors/{room}/temp");
        assert_eq!(f.subscription(), "$share/fleet/sensors/+/temp");
        assert_eq!(f.matches("sensors/attic/temp").unwrap()["room"], "attic");
    }

    #[test]
    fn dollar_topics_are_not_matched_by_leading_wildcards() {
        assert!(filter("#").matches("$SYS/broker/uptime").is_none());
        assert!(
            filter("+/broker/uptime")
                .matches("$SYS/broker/uptime")
                .is_none()
        );
        assert!(filter("$SYS/#").matches("$SYS/broker/uptime").is_some());
    }

    #[test]
    fn invalid_filters_are_refused_with_the_reason() {
        for (bad, reason) in [
            ("", "empty"),
            ("a/#/b", "'#' must be the last level"),
            ("a/b+/c", "whole levels"),
            ("a/{*rest}/b", "must be the last level"),
            ("a/{room}/{room}", "used twice"),
            ("a/{bad name}", "segment name"),
            ("$share/g", "$share/<group>/<filter>"),
            ("$share//a", "share group"),
        ] {
            let error = TopicFilter::parse(bad).unwrap_err().to_string();
            assert!(error.contains(reason), "{bad}: {error}");
        }
    }

    #[test]
    fn reply_templates_fill_named_segments() {
        let f = filter("sensors/{room}/temp");
        let reply = ReplyTemplate::new("sensors/{room}/temp/result", &f).unwrap();
        let params = f.matches("sensors/kitchen/temp").unwrap();
        assert_eq!(reply.render(&params), "sensors/kitchen/temp/result");
    }

    #[test]
    fn a_reply_that_would_trigger_its_own_function_is_refused() {
        for (subscription, reply) in [
            ("sensors/#", "sensors/results"),
            ("sensors/{room}/temp", "sensors/{room}/temp"),
            ("sensors/+/temp", "sensors/results/temp"),
            ("$share/g/a/{x}", "a/{x}"),
            ("a/{x}", "a/a"),
            ("devices/{id}/{*rest}", "devices/{id}/out"),
            ("x/{*rest}", "x/out/{rest}/z"),
        ] {
            let error = ReplyTemplate::new(reply, &filter(subscription)).unwrap_err();
            assert!(
                error.to_string().contains("trigger itself"),
                "{subscription} -> {reply}: {error}"
            );
        }
        for (subscription, reply) in [
            ("sensors/{room}/temp", "results/{room}"),
            ("sensors/{room}/temp", "sensors/{room}/temp/result"),
            ("sensors/+/temp", "sensors/a/humidity"),
            ("x/{*rest}", "y/{rest}/z"),
        ] {
            assert!(
                ReplyTemplate::new(reply, &filter(subscription)).is_ok(),
                "{subscription} -> {reply}"
            );
        }
    }

    #[test]
    fn a_reply_using_an_unknown_name_or_a_wildcard_is_refused() {
        let f = filter("sensors/{room}/temp");
        let error = ReplyTemplate::new("out/{device}", &f).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("{device} is not a named segment"),
            "{error}"
        );
        assert!(ReplyTemplate::new("out/#", &f).is_err());
        assert!(ReplyTemplate::new("out/{room", &f).is_err());
    }
}
