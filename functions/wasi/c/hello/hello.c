/* The function API's example function: `POST /testfunc?name=Jason` with
 * the body `requested the API` answers `Jason requested the API`; with no
 * body, `Hello, Jason!`. The name defaults to "world". */
#include "event.h"
#include "json.h"

int main(void) {
    size_t len;
    char *event = read_event(&len);
    const char *end = event + len;
    if (!json_check(event, end)) {
        log_line("error: the event is not JSON");
        return 1;
    }
    char *name = json_string(json_member(json_member(event, end, "queryParameters"), end, "name"), end, NULL);
    size_t body_len = 0;
    char *body = json_string(json_member(event, end, "body"), end, &body_len);
    struct text out = {0};
    if (body_len == 0) {
        text_puts(&out, "Hello, ");
        text_puts(&out, name ? name : "world");
        text_puts(&out, "!");
    } else {
        text_puts(&out, name ? name : "world");
        text_puts(&out, " ");
        text_put(&out, body, body_len);
    }
    respond(200, NULL, out.data, out.len);
    return 0;
}
