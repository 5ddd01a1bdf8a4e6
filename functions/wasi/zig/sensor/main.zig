//! A sensor reading, checked and converted: the body is a JSON reading such
//! as `{"celsius": 21.5}` (or `{"fahrenheit": 70.7}`), with an optional
//! "sensor" name; the query or path parameter `max` is a threshold in °C
//! (default 30). The answer gives the reading in both units and flags it
//! when it is over the threshold. A body that is not a reading is a 400
//! that says why, an implausible one a 422.
//!
//! fenn's WASI contract: the event comes as JSON on stdin, the response goes
//! as JSON to stdout, each line on stderr is a log line (`warn: ...` logs a
//! warning).
const std = @import("std");
const wasi = std.os.wasi;
const Allocator = std.mem.Allocator;

const Parameters = std.json.ArrayHashMap([]const u8);

const Event = struct {
    queryParameters: ?Parameters = null,
    pathParameters: ?Parameters = null,
    body: []const u8 = "",
    isBase64Encoded: bool = false,
};

const Reading = struct {
    celsius: ?Number = null,
    fahrenheit: ?Number = null,
    sensor: ?[]const u8 = null,
};

/// A JSON number, only a number (std.json reads "21.5" as a float too).
const Number = struct {
    value: f64,

    pub fn jsonParse(gpa: Allocator, source: anytype, options: std.json.ParseOptions) !Number {
        return switch (try source.nextAllocMax(gpa, .alloc_if_needed, options.max_value_len.?)) {
            inline .number, .allocated_number => |text| .{ .value = try std.fmt.parseFloat(f64, text) },
            else => error.UnexpectedToken,
        };
    }
};

const Checked = struct {
    sensor: ?[]const u8,
    celsius: f64,
    fahrenheit: f64,
    threshold: ?f64, // null if not finite, as JSON has no infinity
    alert: bool,
};

const Response = struct {
    statusCode: u16,
    headers: ?struct { @"content-type": []const u8 } = null,
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

fn respond(gpa: Allocator) !void {
    const response = try handle(gpa);
    try writeAll(1, try std.json.Stringify.valueAlloc(gpa, response, .{
        .emit_null_optional_fields = false,
    }));
}

fn handle(gpa: Allocator) !Response {
    const input = try readAll(gpa, 0);
    const event = try std.json.parseFromSliceLeaky(Event, gpa, input, .{ .ignore_unknown_fields = true });
    const max = parameter(event.queryParameters, "max") orelse parameter(event.pathParameters, "max");
    const threshold = if (max) |text|
        parseNumber(text) catch return fail(400, "max must be a number")
    else
        30.0;
    var body = event.body;
    if (event.isBase64Encoded) {
        const decoder = std.base64.standard.Decoder;
        const len = decoder.calcSizeForSlice(body) catch |err| return failWith(gpa, 400, "bad base64 body: ", err);
        const bytes = try gpa.alloc(u8, len);
        decoder.decode(bytes, body) catch |err| return failWith(gpa, 400, "bad base64 body: ", err);
        body = bytes;
    }
    const reading = std.json.parseFromSliceLeaky(Reading, gpa, body, .{ .ignore_unknown_fields = true }) catch |err|
        return failWith(gpa, 400, "not a reading: ", err);
    const celsius = if (reading.celsius) |c| c.value else if (reading.fahrenheit) |f|
        (f.value - 32.0) * 5.0 / 9.0
    else
        return fail(400, "a reading needs celsius or fahrenheit");
    if (!(celsius >= -273.15 and celsius <= 1000.0)) {
        return fail(422, try std.fmt.allocPrint(gpa, "{d} °C is not a plausible reading", .{celsius}));
    }
    const alert = celsius > threshold;
    if (alert) {
        try writeAll(2, try std.fmt.allocPrint(gpa, "warn: reading {d} °C is over {d} °C\n", .{ celsius, threshold }));
    }
    const checked: Checked = .{
        .sensor = reading.sensor,
        .celsius = round1(celsius),
        .fahrenheit = round1(celsius * 9.0 / 5.0 + 32.0),
        .threshold = if (std.math.isFinite(threshold)) threshold else null,
        .alert = alert,
    };
    return .{
        .statusCode = 200,
        .headers = .{ .@"content-type" = "application/json" },
        .body = try std.json.Stringify.valueAlloc(gpa, checked, .{}),
    };
}

/// A number as a query parameter: decimal, or inf or nan (std.fmt.parseFloat
/// would take hexadecimal and `_` separators too).
fn parseNumber(text: []const u8) !f64 {
    if (std.mem.indexOfAny(u8, text, "_xX") != null) return error.InvalidCharacter;
    return std.fmt.parseFloat(f64, text);
}

fn parameter(parameters: ?Parameters, name: []const u8) ?[]const u8 {
    return if (parameters) |p| p.map.get(name) else null;
}

fn fail(status: u16, why: []const u8) Response {
    return .{ .statusCode = status, .body = why };
}

fn failWith(gpa: Allocator, status: u16, prefix: []const u8, err: anyerror) !Response {
    return fail(status, try std.mem.concat(gpa, u8, &.{ prefix, @errorName(err) }));
}

fn round1(x: f64) f64 {
    const scaled = x * 10.0;
    return @trunc(if (scaled >= 0.0) scaled + 0.5 else scaled - 0.5) / 10.0;
}

/// Everything readable from `fd` (stdin: the event).
fn readAll(gpa: Allocator, fd: wasi.fd_t) ![]u8 {
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
