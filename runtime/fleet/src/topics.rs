//! The fleet's topics, under one prefix.

/// Topic names under `prefix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topics {
    prefix: String,
}

/// The prefix unless the config or the command line names another.
pub const DEFAULT_PREFIX: &str = "fenn/fleet";

impl Topics {
    /// Topics under `prefix` (no trailing `/`).
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.trim_end_matches('/').to_owned(),
        }
    }

    /// The prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// A group's desired state.
    pub fn group(&self, group: &str) -> String {
        format!("{}/groups/{group}/desired", self.prefix)
    }

    /// One device's desired state.
    pub fn device(&self, device: &str) -> String {
        format!("{}/devices/{device}/desired", self.prefix)
    }

    /// A device's reported state.
    pub fn reported(&self, device: &str) -> String {
        format!("{}/devices/{device}/reported", self.prefix)
    }

    /// A device's liveness: `online`, or `offline` by its last will.
    pub fn alive(&self, device: &str) -> String {
        format!("{}/devices/{device}/alive", self.prefix)
    }

    /// Every device's reported state and liveness.
    pub fn every_device(&self) -> String {
        format!("{}/devices/+/+", self.prefix)
    }

    /// Chunk `index` of module `sha256`.
    pub fn chunk(&self, sha256: &str, index: u32) -> String {
        format!("{}/modules/{sha256}/{index}", self.prefix)
    }

    /// Every chunk of module `sha256`.
    pub fn chunks(&self, sha256: &str) -> String {
        format!("{}/modules/{sha256}/+", self.prefix)
    }

    /// What a topic under the prefix is.
    pub fn parse<'a>(&self, topic: &'a str) -> Option<Topic<'a>> {
        let rest = topic
            .strip_prefix(self.prefix.as_str())?
            .strip_prefix('/')?;
        let parts: Vec<&str> = rest.split('/').collect();
        match parts.as_slice() {
            ["groups", group, "desired"] => Some(Topic::Group(group)),
            ["devices", device, "desired"] => Some(Topic::Device(device)),
            ["devices", device, "reported"] => Some(Topic::Reported(device)),
            ["devices", device, "alive"] => Some(Topic::Alive(device)),
            ["modules", sha, index] => Some(Topic::Chunk(sha, index.parse().ok()?)),
            _ => None,
        }
    }
}

/// A topic of the fleet's, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topic<'a> {
    /// A group's desired state.
    Group(&'a str),
    /// A device's desired state.
    Device(&'a str),
    /// A device's reported state.
    Reported(&'a str),
    /// A device's liveness.
    Alive(&'a str),
    /// A module's chunk.
    Chunk(&'a str, u32),
}

/// Whether `name` may be a device's or a group's name: as a function's
/// (letters, digits, `-`, `_`, `.`), so that it is one level of a topic.
pub fn is_name(name: &str) -> bool {
    fenn_runtime::trigger::is_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_topic_parses_back_to_what_named_it() {
        let topics = Topics::new("fenn/fleet/");
        assert_eq!(
            topics.parse(&topics.group("lobby")),
            Some(Topic::Group("lobby"))
        );
        assert_eq!(
            topics.parse(&topics.device("pi-7")),
            Some(Topic::Device("pi-7"))
        );
        assert_eq!(
            topics.parse(&topics.reported("pi-7")),
            Some(Topic::Reported("pi-7"))
        );
        assert_eq!(
            topics.parse(&topics.alive("pi-7")),
            Some(Topic::Alive("pi-7"))
        );
        assert_eq!(
            topics.parse(&topics.chunk("ab", 3)),
            Some(Topic::Chunk("ab", 3))
        );
        assert_eq!(topics.parse("fenn/fleet/modules/ab/x"), None);
        assert_eq!(topics.parse("fenn/fleetx/groups/a/desired"), None);
        assert_eq!(topics.parse("other/groups/a/desired"), None);
    }

    #[test]
    fn names_are_one_topic_level() {
        assert!(is_name("pi-7.lobby_2"));
        for bad in ["", "a/b", "a+", "#", "a b", "..", &"x".repeat(200)] {
            assert!(!is_name(bad), "{bad}");
        }
    }
}
