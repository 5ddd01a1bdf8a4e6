//! The guest's allocator and panic handler (wasm32 only).
//!
//! An instance lives for one event, so the allocator only bumps a pointer
//! and grows linear memory when it runs out; `dealloc` is free. `realloc`
//! of the newest block grows it in place, which keeps a growing `Vec` or
//! `String` from copying. When the host's memory limit refuses to grow,
//! `alloc` returns null and Rust's allocation-failure path traps.
#![allow(unsafe_code)]

use core::alloc::{GlobalAlloc, Layout};
use core::cell::Cell;

const PAGE: usize = 65_536;

struct Bump {
    next: Cell<usize>,
    end: Cell<usize>,
    last: Cell<usize>,
}

// SAFETY: wasm32-unknown-unknown guests are single-threaded.
unsafe impl Sync for Bump {}

unsafe extern "C" {
    static __heap_base: u8;
}

impl Bump {
    fn init(&self) {
        if self.end.get() == 0 {
            // Only the address of the linker-set symbol is taken.
            let base = (&raw const __heap_base) as usize;
            self.next.set(base);
            self.end.set(core::arch::wasm32::memory_size(0) * PAGE);
        }
    }

    fn reserve(&self, end: usize) -> bool {
        if end <= self.end.get() {
            return true;
        }
        let pages = (end - self.end.get()).div_ceil(PAGE);
        if core::arch::wasm32::memory_grow(0, pages) == usize::MAX {
            return false;
        }
        self.end.set(self.end.get() + pages * PAGE);
        true
    }
}

// SAFETY: blocks never overlap: `next` only moves forward, and a block is
// resized in place only while it is the newest one.
unsafe impl GlobalAlloc for Bump {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.init();
        let start = self.next.get().next_multiple_of(layout.align());
        let Some(end) = start.checked_add(layout.size()) else {
            return core::ptr::null_mut();
        };
        if !self.reserve(end) {
            return core::ptr::null_mut();
        }
        self.next.set(end);
        self.last.set(start);
        start as *mut u8
    }

    unsafe fn dealloc(&self, _ptr: *mut u8, _layout: Layout) {}

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let start = ptr as usize;
        if start == self.last.get() {
            let Some(end) = start.checked_add(new_size) else {
                return core::ptr::null_mut();
            };
            if !self.reserve(end) {
                return core::ptr::null_mut();
            }
            self.next.set(end);
            return ptr;
        }
        // SAFETY: the caller's contract for realloc; copy into a new block.
        unsafe {
            let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
            let new = self.alloc(new_layout);
            if !new.is_null() {
                core::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
            }
            new
        }
    }
}

#[global_allocator]
static HEAP: Bump = Bump {
    next: Cell::new(0),
    end: Cell::new(0),
    last: Cell::new(usize::MAX),
};

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    crate::log::write(
        crate::log::LogLevel::Error,
        format_args!("panicked: {}", info.message()),
    );
    core::arch::wasm32::unreachable()
}
