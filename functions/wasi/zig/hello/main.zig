//! The function API's example function: `POST /testfunc?name=Jason` with
//! the body `requested the API` answers `Jason requested the API`; with no
//! body, `Hello, Jason!`. The name defaults to "world".
//!
//! fenn's WASI contract: the event comes as JSON on stdin, the response goes
//! as JSON to stdout, each line on stderr is a log line.
const std = @import("std");
const wasi = std.os.wasi;

const Event = struct {
    queryParameters: ?std.json.ArrayHashMap([]const u8) = null,
    body: []const u8 = "",
};

const Response = struct {
    statusCode: u16,
    body: []const u8,
};

pub fn main() u8 {
    // An instance serves one event: nothing is freed.
    var arena: std.heap.ArenaAllocator = .init(std.heap.wasm_allocator);
    respond(arena.allocator()) catch |err| {
        // A failed event: logged, and the exit code says so.
        writeAll(2, "error: ") catch {};
        writeAll(2, @errorName(err)) catch {};
        writeAll(2, "\n") catch {};
        return 1;
    };
    return 0;
}

fn respond(gpa: std.mem.Allocator) !void {
    const response = try handle(gpa);
    try writeAll(1, try std.json.Stringify.valueAlloc(gpa, response, .{}));
}

fn handle(gpa: std.mem.Allocator) !Response {
    const input = try readAll(gpa, 0);
    const event = try std.json.parseFromSliceLeaky(Event, gpa, input, .{ .ignore_unknown_fields = true });
    const query = if (event.queryParameters) |q| q.map.get("name") else null;
    const name = query orelse "world";
    const text = if (event.body.len == 0)
        try std.mem.concat(gpa, u8, &.{ "Hello, ", name, "!" })
    else
        try std.mem.concat(gpa, u8, &.{ name, " ", event.body });
    return .{ .statusCode = 200, .body = text };
}

/// Everything readable from `fd` (stdin: the event).
fn readAll(gpa: std.mem.Allocator, fd: wasi.fd_t) ![]u8 {
    var bytes: std.ArrayList(u8) = .empty;
    while (true) {
        try bytes.ensureUnusedCapacity(gpa, 4096);
        const room = bytes.unusedCapacitySlice();
        var iov = [_]std.posix.iovec{.{ .base = room.ptr, .len = room.len }};
        var n: usize = 0;
        if (wasi.fd_read(fd, &iov, 1, &n) != .SUCCESS) return error.ReadFailed;
        if (n == 0) return bytes.items;
        bytes.items.len += n;
    }
}

fn writeAll(fd: wasi.fd_t, bytes: []const u8) !void {
    var rest = bytes;
    while (rest.len > 0) {
        var iov = [_]std.posix.iovec_const{.{ .base = rest.ptr, .len = rest.len }};
        var n: usize = 0;
        if (wasi.fd_write(fd, &iov, 1, &n) != .SUCCESS or n == 0) return error.WriteFailed;
        rest = rest[n..];
    }
}
