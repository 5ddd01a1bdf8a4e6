/* A sensor reading, checked and converted: the body is a JSON reading such
 * as {"celsius": 21.5} (or {"fahrenheit": 70.7}), with an optional
 * "sensor" name; the query or path parameter `max` is a threshold in °C
 * (default 30). The answer gives the reading in both units and flags it
 * when it is over the threshold. A body that is not a reading is a 400
 * that says why, an implausible one a 422. */
#include <math.h>
#include <stdio.h>

#include "event.h"
#include "json.h"

struct reading {
    int has_celsius, has_fahrenheit;
    double celsius, fahrenheit;
    char *sensor;
};

static int fail(int status, const char *why, size_t len) {
    respond(status, NULL, why, len);
    return 0;
}

static int fail_with(int status, const char *why) { return fail(status, why, strlen(why)); }

/* x in the shortest text that reads back as x; with ".0" if whole and
 * `point` is set (as JSON writers of floats do). */
static void text_put_number(struct text *t, double x, int point) {
    char digits[40];
    if (!isfinite(x)) {
        text_puts(t, "null");
        return;
    }
    if (x == floor(x) && fabs(x) < 1e16) {
        snprintf(digits, sizeof digits, "%.0f", x);
    } else {
        for (int precision = 1; precision <= 17; precision++) {
            snprintf(digits, sizeof digits, "%.*g", precision, x);
            if (strtod(digits, NULL) == x) break;
        }
    }
    text_puts(t, digits);
    if (point && !strpbrk(digits, ".e")) text_puts(t, ".0");
}

/* A number as a query parameter: decimal, with an optional sign, point and
 * exponent, or inf or nan. */
static int parse_number(const char *s, double *out) {
    const char *p = *s == '+' || *s == '-' ? s + 1 : s;
    if (!strcasecmp(p, "inf") || !strcasecmp(p, "infinity") || !strcasecmp(p, "nan")) {
        *out = strtod(s, NULL);
        return 1;
    }
    size_t digits = strspn(p, "0123456789");
    p += digits;
    if (*p == '.') {
        size_t fraction = strspn(++p, "0123456789");
        digits += fraction;
        p += fraction;
    }
    if (digits == 0) return 0;
    if (*p == 'e' || *p == 'E') {
        p += p[1] == '+' || p[1] == '-' ? 2 : 1;
        size_t exponent = strspn(p, "0123456789");
        if (exponent == 0) return 0;
        p += exponent;
    }
    if (*p) return 0;
    *out = strtod(s, NULL);
    return 1;
}

static int base64_value(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* Decodes padded standard base64 in place; NULL, or why it is not base64. */
static const char *base64_decode(char *s, size_t *len) {
    size_t n = *len, out = 0;
    if (n % 4) return "bad base64 body: its length is not a multiple of 4";
    for (size_t i = 0; i < n; i += 4) {
        int pad = i + 4 == n && s[i + 3] == '=' ? (s[i + 2] == '=' ? 2 : 1) : 0;
        unsigned long group = 0;
        for (int j = 0; j < 4; j++) {
            int v = j >= 4 - pad ? 0 : base64_value(s[i + j]);
            if (v < 0) return "bad base64 body: an invalid symbol";
            group = group << 6 | (unsigned long)v;
        }
        s[out++] = (char)(group >> 16);
        if (pad < 2) s[out++] = (char)(group >> 8);
        if (pad < 1) s[out++] = (char)group;
    }
    *len = out;
    return NULL;
}

static int valid_utf8(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i++];
        int more = c < 0x80 ? 0 : c >= 0xC2 && c < 0xE0 ? 1 : c >= 0xE0 && c < 0xF0 ? 2 : c >= 0xF0 && c < 0xF5 ? 3 : -1;
        if (more < 0 || n - i < (size_t)more) return 0;
        while (more-- > 0)
            if ((s[i++] & 0xC0) != 0x80) return 0;
    }
    return 1;
}

/* Reads a reading from the body; NULL, or why the body is not one. */
static const char *read_reading(const char *body, size_t len, struct reading *r) {
    const char *end = body + len, *p = json_ws(body, end), *value;
    char *key;
    if (!valid_utf8((const unsigned char *)body, len)) return "not a reading: invalid UTF-8";
    if (!json_check(body, end)) return "not a reading: invalid JSON";
    if (*p != '{') return "not a reading: expected a JSON object";
    while (json_next(&p, end, &key, &value)) {
        int celsius = !strcmp(key, "celsius"), fahrenheit = !strcmp(key, "fahrenheit");
        int sensor = !strcmp(key, "sensor"), null = *value == 'n';
        free(key);
        if ((celsius || fahrenheit) && !null) {
            int *has = celsius ? &r->has_celsius : &r->has_fahrenheit;
            if (!json_number(value, end, celsius ? &r->celsius : &r->fahrenheit))
                return celsius ? "not a reading: celsius must be a number"
                               : "not a reading: fahrenheit must be a number";
            *has = 1;
        } else if (sensor && !null && !(r->sensor = json_string(value, end, NULL))) {
            return "not a reading: sensor must be a string";
        }
    }
    return NULL;
}

static double round1(double x) {
    double scaled = x * 10.0;
    return (double)(long long)(scaled >= 0.0 ? scaled + 0.5 : scaled - 0.5) / 10.0;
}

static void answer(const struct reading *r, double celsius, double threshold) {
    struct text out = {0};
    text_puts(&out, "{\"sensor\":");
    if (r->sensor) text_put_json(&out, r->sensor, strlen(r->sensor));
    else text_puts(&out, "null");
    text_puts(&out, ",\"celsius\":");
    text_put_number(&out, round1(celsius), 1);
    text_puts(&out, ",\"fahrenheit\":");
    text_put_number(&out, round1(celsius * 9.0 / 5.0 + 32.0), 1);
    text_puts(&out, ",\"threshold\":");
    text_put_number(&out, threshold, 1);
    text_puts(&out, celsius > threshold ? ",\"alert\":true}" : ",\"alert\":false}");
    respond(200, "application/json", out.data, out.len);
}

static void log_alert(double celsius, double threshold) {
    struct text line = {0};
    text_puts(&line, "warn: reading ");
    text_put_number(&line, celsius, 0);
    text_puts(&line, " °C is over ");
    text_put_number(&line, threshold, 0);
    text_puts(&line, " °C\n");
    write_all(2, line.data, line.len);
}

int main(void) {
    size_t len, body_len = 0;
    char *event = read_event(&len);
    const char *end = event + len;
    if (!json_check(event, end)) {
        log_line("error: the event is not JSON");
        return 1;
    }
    const char *max = json_member(json_member(event, end, "queryParameters"), end, "max");
    if (!max) max = json_member(json_member(event, end, "pathParameters"), end, "max");
    char *max_text = json_string(max, end, NULL);
    double threshold = 30.0, celsius;
    if (max_text && !parse_number(max_text, &threshold)) return fail_with(400, "max must be a number");
    char *body = json_string(json_member(event, end, "body"), end, &body_len);
    const char *encoded = json_member(event, end, "isBase64Encoded"), *why;
    if (!body) body = calloc(1, 1);
    if (encoded && *encoded == 't' && (why = base64_decode(body, &body_len))) return fail_with(400, why);
    struct reading r = {0};
    if ((why = read_reading(body, body_len, &r))) return fail_with(400, why);
    if (!r.has_celsius && !r.has_fahrenheit) return fail_with(400, "a reading needs celsius or fahrenheit");
    celsius = r.has_celsius ? r.celsius : (r.fahrenheit - 32.0) * 5.0 / 9.0;
    if (!(celsius >= -273.15 && celsius <= 1000.0)) {
        struct text why_not = {0};
        text_put_number(&why_not, celsius, 0);
        text_puts(&why_not, " °C is not a plausible reading");
        return fail(422, why_not.data, why_not.len);
    }
    if (celsius > threshold) log_alert(celsius, threshold);
    answer(&r, celsius, threshold);
    return 0;
}
