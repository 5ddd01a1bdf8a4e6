/* A small JSON reader, enough for fenn's event and a short body: checks a
 * document once (json_check), then walks it without further checks
 * (json_member, json_next, json_string, json_number). Text is a pointer and
 * an end, never NUL-terminated, as a decoded body may hold NUL bytes. */
#ifndef FENN_JSON_H
#define FENN_JSON_H

#include <stdlib.h>
#include <string.h>

#define JSON_MAX_DEPTH 64

static inline const char *json_ws(const char *p, const char *end) {
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
    return p;
}

static inline int json_digit(const char *p, const char *end) {
    return p < end && *p >= '0' && *p <= '9';
}

static inline int json_hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* The end of the number at p, or NULL if p holds none (JSON's grammar). */
static inline const char *json_skip_number(const char *p, const char *end) {
    if (p < end && *p == '-') p++;
    if (!json_digit(p, end)) return NULL;
    if (*p == '0') p++;
    else while (json_digit(p, end)) p++;
    if (p < end && *p == '.') {
        if (!json_digit(++p, end)) return NULL;
        while (json_digit(p, end)) p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        if (!json_digit(p, end)) return NULL;
        while (json_digit(p, end)) p++;
    }
    return p;
}

/* The end of the string whose opening quote is at p, or NULL. */
static inline const char *json_skip_string(const char *p, const char *end) {
    for (p++; p < end; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"') return p + 1;
        if (c < 0x20) return NULL;
        if (c != '\\') continue;
        if (++p >= end) return NULL;
        if (*p == 'u') {
            if (end - p < 5) return NULL;
            for (int i = 1; i <= 4; i++)
                if (json_hex(p[i]) < 0) return NULL;
            p += 4;
        } else if (!strchr("\"\\/bfnrt", *p) || *p == 0) {
            return NULL;
        }
    }
    return NULL;
}

static inline const char *json_skip_literal(const char *p, const char *end, const char *word) {
    size_t n = strlen(word);
    return (size_t)(end - p) >= n && memcmp(p, word, n) == 0 ? p + n : NULL;
}

/* The end of the value at p (after whitespace), or NULL if it is not JSON. */
static inline const char *json_skip(const char *p, const char *end, int depth) {
    p = json_ws(p, end);
    if (p >= end || depth > JSON_MAX_DEPTH) return NULL;
    if (*p == '"') return json_skip_string(p, end);
    if (*p == 't') return json_skip_literal(p, end, "true");
    if (*p == 'f') return json_skip_literal(p, end, "false");
    if (*p == 'n') return json_skip_literal(p, end, "null");
    if (*p != '{' && *p != '[') return json_skip_number(p, end);
    char close = *p == '{' ? '}' : ']';
    p = json_ws(p + 1, end);
    if (p < end && *p == close) return p + 1;
    for (;;) {
        if (close == '}') {
            p = json_ws(p, end);
            if (p >= end || *p != '"' || !(p = json_skip_string(p, end))) return NULL;
            p = json_ws(p, end);
            if (p >= end || *p++ != ':') return NULL;
        }
        if (!(p = json_skip(p, end, depth + 1))) return NULL;
        p = json_ws(p, end);
        if (p >= end) return NULL;
        if (*p == close) return p + 1;
        if (*p++ != ',') return NULL;
    }
}

/* Whether [p, end) is exactly one JSON value, with whitespace around. */
static inline int json_check(const char *p, const char *end) {
    p = json_skip(p, end, 0);
    return p && json_ws(p, end) == end;
}

static inline void json_utf8(char **out, unsigned long c) {
    char *o = *out;
    if (c < 0x80) {
        *o++ = (char)c;
    } else if (c < 0x800) {
        *o++ = (char)(0xC0 | c >> 6);
        *o++ = (char)(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
        *o++ = (char)(0xE0 | c >> 12);
        *o++ = (char)(0x80 | (c >> 6 & 0x3F));
        *o++ = (char)(0x80 | (c & 0x3F));
    } else {
        *o++ = (char)(0xF0 | c >> 18);
        *o++ = (char)(0x80 | (c >> 12 & 0x3F));
        *o++ = (char)(0x80 | (c >> 6 & 0x3F));
        *o++ = (char)(0x80 | (c & 0x3F));
    }
    *out = o;
}

static inline unsigned long json_u4(const char *p) {
    return (unsigned long)(json_hex(p[0]) << 12 | json_hex(p[1]) << 8 | json_hex(p[2]) << 4 | json_hex(p[3]));
}

/* The checked string at p, decoded into a new NUL-terminated buffer (its
 * length in *len if len is set); NULL if p holds no string. A lone
 * surrogate becomes U+FFFD. */
static inline char *json_string(const char *p, const char *end, size_t *len) {
    p = json_ws(p, end);
    if (p >= end || *p != '"') return NULL;
    const char *close = json_skip_string(p, end);
    char *out = malloc((size_t)(close - p)), *o = out;
    if (!out) return NULL;
    for (p++; p < close - 1; p++) {
        if (*p != '\\') { *o++ = *p; continue; }
        char e = *++p;
        if (e != 'u') {
            *o++ = e == 'b' ? '\b' : e == 'f' ? '\f' : e == 'n' ? '\n' : e == 'r' ? '\r' : e == 't' ? '\t' : e;
            continue;
        }
        unsigned long c = json_u4(p + 1);
        p += 4;
        if (c >= 0xD800 && c < 0xDC00 && close - p > 6 && p[1] == '\\' && p[2] == 'u') {
            unsigned long low = json_u4(p + 3);
            if (low >= 0xDC00 && low < 0xE000) {
                c = 0x10000 + ((c - 0xD800) << 10) + (low - 0xDC00);
                p += 6;
            }
        }
        json_utf8(&o, c >= 0xD800 && c < 0xE000 ? 0xFFFD : c);
    }
    *o = 0;
    if (len) *len = (size_t)(o - out);
    return out;
}

/* The checked number at p, in *out; 0 if p holds no number. */
static inline int json_number(const char *p, const char *end, double *out) {
    p = json_ws(p, end);
    const char *q = json_skip_number(p, end);
    if (!q) return 0;
    char *text = strndup(p, (size_t)(q - p));
    if (!text) return 0;
    *out = strtod(text, NULL);
    free(text);
    return 1;
}

/* Steps through the checked object at *p: the first call with *p at its
 * '{', the next ones where the last left it. Returns 1 with the member's
 * key (a new buffer, for the caller to free) and value, 0 past the last. */
static inline int json_next(const char **p, const char *end, char **key, const char **value) {
    const char *q = json_ws(*p, end);
    if (q >= end || (*q != '{' && *q != ',')) return 0;
    q = json_ws(q + 1, end);
    if (q >= end || *q != '"') return 0;
    *key = json_string(q, end, NULL);
    q = json_ws(json_skip_string(q, end), end) + 1;
    *value = json_ws(q, end);
    *p = json_skip(q, end, 0);
    return *key != NULL;
}

/* The value of the checked object obj's member named key, or NULL. */
static inline const char *json_member(const char *obj, const char *end, const char *key) {
    const char *p = obj, *value, *found = NULL;
    char *name;
    if (!obj) return NULL;
    while (json_next(&p, end, &name, &value)) {
        if (strcmp(name, key) == 0) found = value;
        free(name);
    }
    return found;
}

#endif
