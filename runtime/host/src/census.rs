//! What a module asks of every instantiation, counted at deploy.
//!
//! Every event gets a fresh instance, and wasmi's instantiation costs time
//! in proportion to what the module declares: an entry per function, global
//! and export, and the table and memory initializers. Fuel does not meter
//! that work, so a module is refused at deploy when any count is over
//! [`Census::LIMITS`], with the count named. The largest guests built with
//! the SDK stay far below these (the examples: under 300 functions, 5
//! exports).

use crate::Error;
use wasmparser::{ElementItems, Parser, Payload};

/// The counts a module declares that cost instantiation time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Census {
    /// Functions, imported and defined.
    pub functions: u32,
    /// Globals.
    pub globals: u32,
    /// Exports.
    pub exports: u32,
    /// Element segments.
    pub element_segments: u32,
    /// Table entries the element segments initialise.
    pub element_items: u64,
    /// Data segments.
    pub data_segments: u32,
    /// Bytes every instantiation writes: the initial linear memory (zeroed)
    /// and the data segments copied into it.
    pub start_bytes: u64,
}

impl Census {
    /// The most of each a module may declare.
    pub const LIMITS: Census = Census {
        functions: 20_000,
        globals: 1_000,
        exports: 1_000,
        element_segments: 1_000,
        element_items: 100_000,
        data_segments: 10_000,
        start_bytes: u64::MAX,
    };

    /// Instantiations that write more than this run on a worker thread,
    /// never on the threads that receive events.
    pub const HEAVY_START_BYTES: u64 = 4 << 20;

    /// Instantiations estimated at more work than this (about 50 µs on an
    /// x86-64 core, half a millisecond on a Raspberry Pi 3) start on a
    /// worker thread, never on the threads that receive events. The
    /// examples estimate under 5,000; a module at every limit 530,000.
    pub const INLINE_WORK: u64 = 50_000;

    /// The work every instantiation does for what the module declares, in
    /// nanoseconds of an x86-64 core as measured with wasmi: an entry per
    /// function (11), export (170), global (14), element segment (25),
    /// table element (2) and data segment (8). Fuel does not meter it.
    pub fn instantiation_work(&self) -> u64 {
        [
            (u64::from(self.functions), 11),
            (u64::from(self.exports), 170),
            (u64::from(self.globals), 14),
            (u64::from(self.element_segments), 25),
            (self.element_items, 2),
            (u64::from(self.data_segments), 8),
        ]
        .iter()
        .map(|(count, cost)| count.saturating_mul(*cost))
        .fold(0, u64::saturating_add)
    }

    /// Counts what `wasm` declares.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidModule`] when the sections cannot be read.
    pub fn of(wasm: &[u8]) -> Result<Self, Error> {
        let invalid = |error: wasmparser::BinaryReaderError| Error::InvalidModule {
            reason: error.to_string(),
        };
        let mut census = Self::default();
        for payload in Parser::new(0).parse_all(wasm) {
            match payload.map_err(invalid)? {
                Payload::ImportSection(imports) => {
                    for import in imports {
                        if matches!(import.map_err(invalid)?.ty, wasmparser::TypeRef::Func(_)) {
                            census.functions += 1;
                        }
                    }
                }
                Payload::FunctionSection(s) => census.functions += s.count(),
                Payload::GlobalSection(s) => census.globals += s.count(),
                Payload::ExportSection(s) => census.exports += s.count(),
                Payload::DataSection(segments) => {
                    for segment in segments {
                        census.data_segments += 1;
                        census.start_bytes += segment.map_err(invalid)?.data.len() as u64;
                    }
                }
                Payload::MemorySection(memories) => {
                    for memory in memories {
                        let pages = memory.map_err(invalid)?.initial;
                        census.start_bytes = census
                            .start_bytes
                            .saturating_add(pages.saturating_mul(65_536));
                    }
                }
                Payload::ElementSection(segments) => {
                    for segment in segments {
                        census.element_segments += 1;
                        census.element_items += u64::from(match segment.map_err(invalid)?.items {
                            ElementItems::Functions(items) => items.count(),
                            ElementItems::Expressions(_, items) => items.count(),
                        });
                    }
                }
                _ => {}
            }
        }
        Ok(census)
    }

    /// Refuses a module over any of [`Census::LIMITS`], naming the count.
    ///
    /// # Errors
    ///
    /// [`Error::NotAbi`] naming what is over its limit.
    pub fn check(&self) -> Result<(), Error> {
        let limits = Self::LIMITS;
        let counts = [
            (
                "functions",
                u64::from(self.functions),
                u64::from(limits.functions),
            ),
            (
                "globals",
                u64::from(self.globals),
                u64::from(limits.globals),
            ),
            (
                "exports",
                u64::from(self.exports),
                u64::from(limits.exports),
            ),
            (
                "element segments",
                u64::from(self.element_segments),
                u64::from(limits.element_segments),
            ),
            ("table elements", self.element_items, limits.element_items),
            (
                "data segments",
                u64::from(self.data_segments),
                u64::from(limits.data_segments),
            ),
        ];
        match counts.into_iter().find(|(_, count, limit)| count > limit) {
            Some((what, count, limit)) => Err(Error::NotAbi {
                reason: format!(
                    "it declares {count} {what}, over fenn's limit of {limit} (each costs time at every event's instantiation)"
                ),
            }),
            None => Ok(()),
        }
    }
}

/// Deepest nesting of blocks, loops and ifs a function may have: the
/// compiler's memory grows with it (a module of millions of nested blocks
/// held hundreds of MB), and code that compilers emit stays far below it
/// (a `match` of a few thousand arms nests as deep as it has arms).
pub const MAX_NESTING: u32 = 10_000;

/// Refuses a module with a function nested deeper than [`MAX_NESTING`],
/// before it is compiled. Bytes that do not parse are left to the
/// compiler, whose reason is the one to give.
///
/// # Errors
///
/// [`Error::NotAbi`] naming the depth.
pub fn check_nesting(wasm: &[u8]) -> Result<(), Error> {
    for payload in Parser::new(0).parse_all(wasm) {
        let Ok(Payload::CodeSectionEntry(body)) = payload else {
            continue;
        };
        let Ok(mut operators) = body.get_operators_reader() else {
            return Ok(());
        };
        let mut depth: u32 = 0;
        while !operators.eof() {
            match operators.read() {
                Ok(
                    wasmparser::Operator::Block { .. }
                    | wasmparser::Operator::Loop { .. }
                    | wasmparser::Operator::If { .. }
                    | wasmparser::Operator::TryTable { .. },
                ) => depth += 1,
                Ok(wasmparser::Operator::End) => depth = depth.saturating_sub(1),
                Ok(_) => {}
                Err(_) => return Ok(()),
            }
            if depth > MAX_NESTING {
                return Err(Error::NotAbi {
                    reason: format!(
                        "a function nests blocks deeper than fenn's limit of {MAX_NESTING} (compiling it would take memory in proportion)"
                    ),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_nested_past_the_limit_are_refused_before_compiling() {
        let nested = |depth: usize| {
            let body = format!("{}{}", "(block ".repeat(depth), ")".repeat(depth));
            wat::parse_str(format!("(module (func {body}))")).unwrap()
        };
        assert!(check_nesting(&nested(MAX_NESTING as usize)).is_ok());
        let error = check_nesting(&nested(MAX_NESTING as usize + 1)).unwrap_err();
        assert!(error.to_string().contains("nests blocks deeper"), "{error}");
        assert!(check_nesting(b"not wasm").is_ok());
    }

    #[test]
    fn a_module_with_too_many_exports_is_refused_naming_them() {
        let exports: String = (0..1001)
            .map(|i| format!("(export \"e{i}\" (func $f))"))
            .collect();
        let wasm = wat::parse_str(format!("(module (func $f) {exports})")).unwrap();
        let census = Census::of(&wasm).unwrap();
        assert_eq!((census.functions, census.exports), (1, 1001));
        let error = census.check().unwrap_err();
        assert!(
            error
                .to_string()
                .contains("1001 exports, over fenn's limit of 1000"),
            "{error}"
        );
    }

    #[test]
    fn imports_and_table_elements_are_counted() {
        let wasm = wat::parse_str(
            r#"(module (import "fenn" "now_ms" (func $now (result i64)))
                 (func $a) (table 4 funcref) (elem (i32.const 0) $a $a $now)
                 (global i32 (i32.const 0)) (memory 1) (data (i32.const 0) "x"))"#,
        )
        .unwrap();
        let census = Census::of(&wasm).unwrap();
        assert_eq!(
            census,
            Census {
                functions: 2,
                globals: 1,
                exports: 0,
                element_segments: 1,
                element_items: 3,
                data_segments: 1,
                start_bytes: 65_536 + 1,
            }
        );
        assert!(census.check().is_ok());
    }
}
