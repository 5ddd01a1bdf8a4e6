/* fenn's WASI contract for a C function: the event comes as JSON on stdin,
 * the response goes as JSON to stdout, each line on stderr is a log line
 * (`warn: ...` logs a warning). Reading the event is json.h's part. */
#ifndef FENN_EVENT_H
#define FENN_EVENT_H

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Text that grows as it is written; a failed allocation leaves it short. */
struct text {
    char *data;
    size_t len, cap;
};

static inline void text_put(struct text *t, const char *s, size_t n) {
    if (t->len + n > t->cap) {
        size_t cap = (t->len + n) * 2 + 64;
        char *data = realloc(t->data, cap);
        if (!data) return;
        t->data = data;
        t->cap = cap;
    }
    memcpy(t->data + t->len, s, n);
    t->len += n;
}

static inline void text_puts(struct text *t, const char *s) { text_put(t, s, strlen(s)); }

static inline void text_put_int(struct text *t, long n) {
    char digits[24], *d = digits + sizeof digits;
    unsigned long u = n < 0 ? 0UL - (unsigned long)n : (unsigned long)n;
    do *--d = (char)('0' + u % 10); while (u /= 10);
    if (n < 0) *--d = '-';
    text_put(t, d, (size_t)(digits + sizeof digits - d));
}

/* s as a JSON string, quotes included. */
static inline void text_put_json(struct text *t, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    text_put(t, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            text_put(t, e, 2);
        } else if (c < 0x20) {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            text_put(t, e, 6);
        } else {
            text_put(t, s + i, 1);
        }
    }
    text_put(t, "\"", 1);
}

/* All of stdin: the event. */
static inline char *read_event(size_t *len) {
    struct text in = {0};
    char chunk[4096];
    ssize_t n;
    while ((n = read(0, chunk, sizeof chunk)) > 0) text_put(&in, chunk, (size_t)n);
    *len = in.len;
    return in.data ? in.data : calloc(1, 1);
}

static inline void write_all(int fd, const char *s, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w <= 0) return;
        s += w;
        n -= (size_t)w;
    }
}

/* Logs one line on stderr (`warn: ...` for a warning). */
static inline void log_line(const char *line) {
    write_all(2, line, strlen(line));
    write_all(2, "\n", 1);
}

/* Writes the response: a status, a content type (none if NULL), a body. */
static inline void respond(int status, const char *content_type, const char *body, size_t len) {
    struct text out = {0};
    text_puts(&out, "{\"statusCode\":");
    text_put_int(&out, status);
    text_puts(&out, ",\"headers\":{");
    if (content_type) {
        text_puts(&out, "\"content-type\":");
        text_put_json(&out, content_type, strlen(content_type));
    }
    text_puts(&out, "},\"body\":");
    text_put_json(&out, body, len);
    text_puts(&out, ",\"isBase64Encoded\":false}");
    write_all(1, out.data, out.len);
}

#endif
