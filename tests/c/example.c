/* Use interlink from C: a relay gateway, a listener answering HTTP with a C handler, and a
 * sender reaching it through the relay, all on 127.0.0.1. This is the README's example;
 * tests/c/run.sh builds it with `cc $(pkg-config --cflags --libs interlink)` and runs it. */
#include <interlink.h>
#include <stdio.h>

static void hello(void *user_data, const interlink_http_request *request,
                  interlink_http_response_writer *response) {
    (void)user_data;
    (void)request;
    interlink_http_response_writer_add_header(response, "content-type", "text/plain");
    interlink_http_response_writer_set_body(response, (const uint8_t *)"hello from C", 12);
}

int main(void) {
    interlink_gateway *gateway = NULL;
    interlink_listener *listener = NULL;
    char *connection_string = NULL;
    interlink_http_response response = {0};
    int ok = interlink_gateway_start("127.0.0.1:0", NULL, NULL, &gateway) == INTERLINK_RESULT_OK &&
             interlink_gateway_connection_string(gateway, &connection_string) == INTERLINK_RESULT_OK &&
             interlink_listener_bind(connection_string, "demo", hello, NULL, &listener) == INTERLINK_RESULT_OK &&
             interlink_http_send(connection_string, "demo", "GET", "/hello", NULL, 0, NULL, 0, 10000,
                                 &response) == INTERLINK_RESULT_OK;
    if (ok) {
        printf("%u %.*s\n", response.status, (int)response.body.len, (const char *)response.body.data);
        ok = response.status == 200 && response.body.len == 12;
    } else {
        fprintf(stderr, "interlink: %s\n", interlink_last_error_message());
    }
    interlink_http_response_free(&response);
    interlink_listener_free(listener);
    interlink_gateway_free(gateway);
    interlink_string_free(connection_string);
    return ok ? 0 : 1;
}
