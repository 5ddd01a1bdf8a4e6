//! The example functions built into the binary, and the config that serves
//! them when `fenn serve` is given none.

/// The config used when none is given.
pub const CONFIG: &str = include_str!("examples.toml");

/// The bundled examples, by name.
pub const NAMES: [&str; 3] = ["hello", "echo", "sensor"];

const MODULES: [&[u8]; 3] = [
    include_bytes!(env!("FENN_GUEST_HELLO")),
    include_bytes!(env!("FENN_GUEST_ECHO")),
    include_bytes!(env!("FENN_GUEST_SENSOR")),
];

/// The static name of a bundled example.
pub fn name(example: &str) -> Option<&'static str> {
    NAMES.iter().find(|name| **name == example).copied()
}

/// A bundled example's module.
pub fn module(example: &str) -> Option<&'static [u8]> {
    NAMES
        .iter()
        .position(|name| *name == example)
        .map(|index| MODULES[index])
}
