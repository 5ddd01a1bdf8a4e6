//! Loops that the definitions make: a binding's reply topic that another
//! binding's filter can match feeds that binding, and a chain of such
//! feeds that comes back to where it started would run for ever on one
//! message. [`find_loop`] finds one among all the bindings, so that a
//! config or a deploy that makes one is refused, naming it.
//!
//! The check is conservative: a `{name}` in a reply topic stands for any
//! level (a `{*name}` for any run of levels), so a loop is reported when
//! some values of the names would make one. A binding's reply feeding its
//! own filter is refused earlier ([`crate::ReplyTemplate::new`]).

use crate::MqttRoute;
use std::collections::HashMap;

/// A topic level as a pattern, for the loop checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Pattern {
    /// Exactly this level.
    Exact(String),
    /// Any one level.
    One,
    /// Any run of levels, none included.
    Many,
}

/// Whether some topic matches both patterns.
pub(crate) fn intersects(a: &[Pattern], b: &[Pattern]) -> bool {
    let level = |x: &Pattern, y: &Pattern| match (x, y) {
        (Pattern::Exact(x), Pattern::Exact(y)) => x == y,
        _ => true,
    };
    let many = |p: &[Pattern]| p.contains(&Pattern::Many);
    if !many(a) && !many(b) {
        // The common case, level by level.
        return a.len() == b.len() && a.iter().zip(b).all(|(x, y)| level(x, y));
    }
    // meet[i * (m + 1) + j]: whether a[i..] and b[j..] match a common
    // topic; filled from the ends, so each pair is decided once.
    let (n, m) = (a.len(), b.len());
    let at = |i: usize, j: usize| i * (m + 1) + j;
    let mut meet = vec![false; (n + 1) * (m + 1)];
    for i in (0..=n).rev() {
        for j in (0..=m).rev() {
            meet[at(i, j)] = match (a.get(i), b.get(j)) {
                (None, None) => true,
                (Some(Pattern::Many), _) => meet[at(i + 1, j)] || (j < m && meet[at(i, j + 1)]),
                (_, Some(Pattern::Many)) => meet[at(i, j + 1)] || (i < n && meet[at(i + 1, j)]),
                (None, _) | (_, None) => false,
                (Some(x), Some(y)) => level(x, y) && meet[at(i + 1, j + 1)],
            };
        }
    }
    meet[0]
}

/// A loop among the bindings: the routes, by index, each feeding the
/// next and the last the first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MqttLoop {
    /// Indexes of the routes in the loop, the lowest first.
    pub routes: Vec<usize>,
    described: String,
}

impl std::fmt::Display for MqttLoop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.described)
    }
}

/// The first loop among `routes` (bindings of one or several functions),
/// if they make one: `mqtt loop: a (atk/pa/{x}) -> a (atk/pb/{x}) -> a
/// (atk/pa/{x})`, each step a function and the filter it is called
/// through.
pub fn find_loop(routes: &[MqttRoute]) -> Option<MqttLoop> {
    // Only a binding with a reply topic feeds another, so only those can
    // be in a loop.
    let patterns: Vec<Option<Vec<Pattern>>> = routes
        .iter()
        .map(|route| {
            route
                .reply
                .as_ref()
                .map(|reply| reply.pattern(&route.filter))
        })
        .collect();
    let filters: Vec<Vec<Pattern>> = routes.iter().map(|route| route.filter.pattern()).collect();
    let feeds = feeds(&patterns, &filters);
    let cycle = Graph::new(&feeds).cycle()?;
    Some(described(routes, cycle))
}

/// For each binding, by index, the bindings its reply topic (`patterns`)
/// can feed through their `filters`, in order.
fn feeds(patterns: &[Option<Vec<Pattern>>], filters: &[Vec<Pattern>]) -> Vec<Vec<usize>> {
    let (by_first, open) = by_first_level(patterns, filters);
    patterns
        .iter()
        .map(|reply| {
            let Some(reply) = reply else {
                return Vec::new();
            };
            let mut candidates: Vec<usize> = match reply.first() {
                Some(Pattern::Exact(first)) => {
                    let same = by_first.get(first.as_str()).into_iter().flatten();
                    same.chain(&open).copied().collect()
                }
                _ => (0..patterns.len())
                    .filter(|&to| patterns[to].is_some())
                    .collect(),
            };
            candidates.sort_unstable();
            candidates.retain(|&to| intersects(reply, &filters[to]));
            candidates
        })
        .collect()
}

/// The filters that can be fed (of bindings with a reply topic), by their
/// first level, and those starting with a wildcard: a reply whose first
/// level is plain is tried against those with that first level and
/// those starting with a wildcard only.
fn by_first_level<'f>(
    patterns: &[Option<Vec<Pattern>>],
    filters: &'f [Vec<Pattern>],
) -> (HashMap<&'f str, Vec<usize>>, Vec<usize>) {
    let mut by_first: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut open: Vec<usize> = Vec::new();
    for (to, filter) in filters.iter().enumerate() {
        if patterns[to].is_none() {
            continue;
        }
        match filter.first() {
            Some(Pattern::Exact(first)) => by_first.entry(first).or_default().push(to),
            _ => open.push(to),
        }
    }
    (by_first, open)
}

/// The loop `cycle` makes among `routes`, from its lowest route, each
/// step named by its function and filter.
fn described(routes: &[MqttRoute], mut cycle: Vec<usize>) -> MqttLoop {
    let lowest = cycle
        .iter()
        .enumerate()
        .min_by_key(|(_, route)| **route)
        .map_or(0, |(at, _)| at);
    cycle.rotate_left(lowest);
    let step = |index: &usize| {
        let route = &routes[*index];
        format!("{} ({})", route.function, route.filter.as_written())
    };
    let mut steps: Vec<String> = cycle.iter().map(step).collect();
    steps.extend(cycle.first().map(step));
    MqttLoop {
        described: format!("mqtt loop: {}", steps.join(" -> ")),
        routes: cycle,
    }
}

/// A directed graph by adjacency lists, searched depth first without
/// recursion (a deploy may bring thousands of bindings).
struct Graph<'a> {
    edges: &'a [Vec<usize>],
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mark {
    New,
    OnPath,
    Done,
}

impl<'a> Graph<'a> {
    fn new(edges: &'a [Vec<usize>]) -> Self {
        Self { edges }
    }

    /// The nodes of some cycle, in order, if there is one.
    fn cycle(&self) -> Option<Vec<usize>> {
        let mut marks = vec![Mark::New; self.edges.len()];
        for start in 0..self.edges.len() {
            if marks[start] != Mark::New {
                continue;
            }
            // The path from `start`, each node with the next edge to try.
            let mut path: Vec<(usize, usize)> = vec![(start, 0)];
            marks[start] = Mark::OnPath;
            while let Some((node, next)) = path.last_mut() {
                let node = *node;
                let Some(&to) = self.edges[node].get(*next) else {
                    marks[node] = Mark::Done;
                    path.pop();
                    continue;
                };
                *next += 1;
                match marks[to] {
                    Mark::OnPath => {
                        let from = path.iter().position(|(n, _)| *n == to).unwrap_or(0);
                        return Some(path[from..].iter().map(|(n, _)| *n).collect());
                    }
                    Mark::New => {
                        marks[to] = Mark::OnPath;
                        path.push((to, 0));
                    }
                    Mark::Done => {}
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ReplyTemplate, TopicFilter};

    fn route(function: &str, filter: &str, reply: Option<&str>) -> MqttRoute {
        let filter = TopicFilter::parse(filter).unwrap();
        MqttRoute {
            reply: reply.map(|reply| ReplyTemplate::new(reply, &filter).unwrap()),
            filter,
            qos: 1,
            function: function.into(),
        }
    }

    #[test]
    fn two_bindings_of_one_function_feeding_each_other_are_a_loop() {
        let routes = [
            route("a", "atk/pa/{x}", Some("atk/pb/{x}")),
            route("a", "atk/pb/{x}", Some("atk/pa/{x}")),
        ];
        let found = find_loop(&routes).unwrap();
        assert_eq!(
            found.to_string(),
            "mqtt loop: a (atk/pa/{x}) -> a (atk/pb/{x}) -> a (atk/pa/{x})"
        );
        assert_eq!(found.routes, [0, 1]);
    }

    #[test]
    fn a_loop_across_functions_and_wildcards_is_found_and_named_from_its_first_binding() {
        let routes = [
            route("log", "logs/#", None),
            route("c", "s3/{x}", Some("s1/{x}/in")),
            route("a", "s1/+/in", Some("s2/out")),
            route("b", "s2/{*rest}", Some("s3/{rest}")),
        ];
        let found = find_loop(&routes).unwrap();
        assert_eq!(
            found.to_string(),
            "mqtt loop: c (s3/{x}) -> a (s1/+/in) -> b (s2/{*rest}) -> c (s3/{x})"
        );
    }

    #[test]
    fn chains_that_end_and_bindings_without_replies_are_no_loop() {
        let routes = [
            route("a", "in/{x}", Some("mid/{x}")),
            route("b", "mid/{x}", Some("out/{x}")),
            // Fed by b, but replies nowhere: the chain ends here.
            route("c", "out/#", None),
            route("d", "other/{x}", Some("in2/{x}")),
        ];
        assert_eq!(find_loop(&routes), None);
        assert_eq!(find_loop(&[]), None);
    }

    #[test]
    fn thousands_of_bindings_are_checked_at_once() {
        // 100 functions of 64 bindings, each feeding the next function's
        // first: a chain, no loop, however many edges to consider.
        let routes: Vec<MqttRoute> = (0..6400)
            .map(|n| {
                let (function, binding) = (n / 64, n % 64);
                let reply = format!("f{}/b0/{{x}}", function + 1);
                route(
                    &format!("f{function}"),
                    &format!("f{function}/b{binding}/{{x}}"),
                    Some(&reply),
                )
            })
            .collect();
        assert_eq!(find_loop(&routes), None);
    }

    #[test]
    fn patterns_meet_when_some_topic_matches_both() {
        let p = |text: &str| -> Vec<Pattern> {
            text.split('/')
                .map(|level| match level {
                    "+" => Pattern::One,
                    "#" => Pattern::Many,
                    exact => Pattern::Exact(exact.into()),
                })
                .collect()
        };
        for (a, b) in [
            ("a/+", "a/b"),
            ("a/#", "a"),
            ("#", "x/y/z"),
            ("+/b/#", "a/#"),
        ] {
            assert!(intersects(&p(a), &p(b)), "{a} {b}");
        }
        for (a, b) in [("a/+", "a"), ("a/b", "a/c"), ("a/+/c", "a/#/d")] {
            assert!(!intersects(&p(a), &p(b)), "{a} {b}");
        }
        // Many levels of many runs are decided without exploring each split.
        let long = vec![Pattern::Many; 200];
        let mut other = vec![Pattern::One; 200];
        other.push(Pattern::Exact("z".into()));
        assert!(intersects(&long, &other));
    }
}
