/* Tests of interlink's sans-IO C API: result codes and the boundary, SAS tokens, addresses,
 * the WebSocket codec, the sender helpers, and a full relay rendezvous driven only through
 * the sans-IO handles wired together in memory (sansio_world.h). No sockets, no threads;
 * also run under valgrind by tests/c/run.sh. */
#include "check.h"
#include "sansio_world.h"

static void test_boundary_codes_and_messages(void) {
    CHECK_STR(interlink_result_name(INTERLINK_RESULT_WOULD_BLOCK), "INTERLINK_RESULT_WOULD_BLOCK");
    CHECK(INTERLINK_RESULT_OK == 0 && INTERLINK_RESULT_WOULD_BLOCK == 1 &&
          INTERLINK_RESULT_REFUSED == 11);
    /* NULL where a pointer is required: NULL_POINTER, naming the argument. */
    char *out = NULL;
    CHECK_CODE(interlink_sas_create_token(NULL, "k", "v", 1, &out),
               INTERLINK_RESULT_NULL_POINTER);
    CHECK(strstr(interlink_last_error_message(), "resource") != NULL);
    CHECK(out == NULL);
    /* A Rust panic never crosses the boundary. */
    fprintf(stderr, "  (expected: Rust prints the message of the panic caught next)\n");
    CHECK_CODE(interlink_test_panic(), INTERLINK_RESULT_PANIC);
    CHECK(strstr(interlink_last_error_message(), "panic") != NULL);
    /* Invalid UTF-8 is an invalid argument. */
    CHECK_CODE(interlink_sas_create_token("\xff\xfe", "k", "v", 1, &out),
               INTERLINK_RESULT_INVALID_ARGUMENT);
    /* Freeing NULL is fine everywhere. */
    interlink_string_free(NULL);
    interlink_bytes_free(NULL);
    interlink_gateway_machine_free(NULL);
    interlink_listener_machine_free(NULL);
    interlink_ws_connection_free(NULL);
    interlink_sender_free(NULL);
}

static void test_sas_tokens(void) {
    interlink_endpoint ep = {"127.0.0.1", 9090, false};
    char *audience = NULL, *token = NULL;
    CHECK_OK(interlink_address_audience(&ep, "hc1", &audience));
    CHECK_STR(audience, "http://127.0.0.1:9090/hc1");
    CHECK_OK(interlink_sas_create_token(audience, "root", WORLD_KEY, 1700003600, &token));
    CHECK(token && strncmp(token, "SharedAccessSignature sr=http%3A%2F%2F127.0.0.1%3A9090%2Fhc1&", 61) == 0);
    interlink_sas_rule rules[] = {{"root", WORLD_KEY, INTERLINK_RIGHTS_LISTEN}};
    interlink_sas_validated v = {0, 0};
    CHECK_OK(interlink_sas_validate(token, rules, 1, "127.0.0.1", "hc1", INTERLINK_RIGHTS_LISTEN,
                                    1700000000, 300, &v));
    CHECK(v.expiry == 1700003600 && v.rights == INTERLINK_RIGHTS_LISTEN);
    /* Wrong rights: 403. */
    CHECK_CODE(interlink_sas_validate(token, rules, 1, "127.0.0.1", "hc1", INTERLINK_RIGHTS_SEND,
                                      1700000000, 300, NULL),
               INTERLINK_RESULT_AUTH);
    CHECK(interlink_last_error_status() == 403);
    /* Expired (past the grace): 401. */
    CHECK_CODE(interlink_sas_validate(token, rules, 1, "127.0.0.1", "hc1", INTERLINK_RIGHTS_LISTEN,
                                      1700004000, 300, NULL),
               INTERLINK_RESULT_AUTH);
    CHECK(interlink_last_error_status() == 401);
    CHECK(strstr(interlink_last_error_message(), "expired") != NULL);
    /* Another key: 401. */
    interlink_sas_rule other[] = {{"root", "another key", INTERLINK_RIGHTS_ALL}};
    CHECK_CODE(interlink_sas_validate(token, other, 1, "127.0.0.1", "hc1", INTERLINK_RIGHTS_LISTEN,
                                      1700000000, 300, NULL),
               INTERLINK_RESULT_AUTH);
    /* Unknown rights bits. */
    CHECK_CODE(interlink_sas_validate(token, rules, 1, "127.0.0.1", "hc1", 64, 1700000000, 300, NULL),
               INTERLINK_RESULT_INVALID_ARGUMENT);
    interlink_string_free(token);
    interlink_string_free(audience);
}

static void test_addresses(void) {
    interlink_endpoint ep = {"relay.example", 0, true};
    char *url = NULL;
    CHECK_OK(interlink_address_listen_url(&ep, "hc1", "me", NULL, &url));
    CHECK_STR(url, "wss://relay.example/$hc/hc1?sb-hc-action=listen&sb-hc-id=me");
    interlink_string_free(url);
    CHECK_OK(interlink_address_connect_url(&ep, "hc1", "chat room", "a=1", NULL, NULL, &url));
    CHECK_STR(url, "wss://relay.example/$hc/hc1/chat%20room?a=1&sb-hc-action=connect");
    interlink_string_free(url);
    CHECK_OK(interlink_address_http_url(&ep, "hc1", "/x?y=1", &url));
    CHECK_STR(url, "https://relay.example/hc1/x?y=1");
    interlink_string_free(url);
    CHECK_OK(interlink_address_reject_url("wss://r/$hc/hc1?sb-hc-action=accept&sb-hc-id=7", 403,
                                          "not today", &url));
    CHECK_STR(url, "wss://r/$hc/hc1?sb-hc-action=accept&sb-hc-id=7&sb-hc-statusCode=403"
                   "&sb-hc-statusDescription=not%20today");
    interlink_string_free(url);
    CHECK_OK(interlink_address_filter_query("a=1&sb-hc-token=x&b=2", &url));
    CHECK_STR(url, "a=1&b=2");
    interlink_string_free(url);
    CHECK_OK(interlink_address_filter_query("sb-hc-action=listen", &url));
    CHECK(url == NULL);
    interlink_endpoint bad = {NULL, 0, false};
    CHECK_CODE(interlink_address_audience(&bad, "hc1", &url), INTERLINK_RESULT_NULL_POINTER);
}

static void test_ws_codec(void) {
    interlink_ws_connection *client = NULL, *server = NULL;
    CHECK_OK(interlink_ws_connection_new(true, 7, &client));
    CHECK_OK(interlink_ws_connection_new(false, 8, &server));
    interlink_ws_event ev;
    CHECK_CODE(interlink_ws_connection_poll_event(server, &ev), INTERLINK_RESULT_WOULD_BLOCK);
    interlink_bytes none = {NULL, 0};
    CHECK_CODE(interlink_ws_connection_poll_transmit(client, &none), INTERLINK_RESULT_WOULD_BLOCK);
    CHECK_OK(interlink_ws_connection_send_text(client, "hello", 5));
    const uint8_t bin[3] = {1, 2, 3};
    CHECK_OK(interlink_ws_connection_send_binary(client, bin, 3));
    CHECK_OK(interlink_ws_connection_send_ping(client, (const uint8_t *)"p", 1));
    /* Feed the server one byte at a time: the decoder accepts any split. */
    interlink_bytes wire;
    CHECK_OK(interlink_ws_connection_poll_transmit(client, &wire));
    for (size_t i = 0; i < wire.len; i++) interlink_ws_connection_feed(server, wire.data + i, 1);
    interlink_bytes_free(&wire);
    CHECK(wire.data == NULL && wire.len == 0);
    CHECK_OK(interlink_ws_connection_poll_event(server, &ev));
    CHECK(ev.kind == INTERLINK_WS_EVENT_KIND_TEXT && ev.data_len == 5);
    CHECK_STR((const char *)ev.data, "hello");
    CHECK_OK(interlink_ws_connection_poll_event(server, &ev));
    CHECK(ev.kind == INTERLINK_WS_EVENT_KIND_BINARY && ev.data_len == 3 && ev.data[2] == 3);
    CHECK_OK(interlink_ws_connection_poll_event(server, &ev));
    CHECK(ev.kind == INTERLINK_WS_EVENT_KIND_PING && ev.data_len == 1);
    CHECK_CODE(interlink_ws_connection_poll_event(server, &ev), INTERLINK_RESULT_WOULD_BLOCK);
    /* The automatic pong comes back; then the close handshake. */
    world_flush(server, client);
    CHECK_OK(interlink_ws_connection_poll_event(client, &ev));
    CHECK(ev.kind == INTERLINK_WS_EVENT_KIND_PONG);
    CHECK_OK(interlink_ws_connection_close(client, 1000, "bye"));
    interlink_ws_state st;
    CHECK_OK(interlink_ws_connection_state(client, &st));
    CHECK(st == INTERLINK_WS_STATE_CLOSE_SENT);
    CHECK_CODE(interlink_ws_connection_send_text(client, "late", 4), INTERLINK_RESULT_CLOSED);
    world_flush(client, server);
    CHECK_OK(interlink_ws_connection_poll_event(server, &ev));
    CHECK(ev.kind == INTERLINK_WS_EVENT_KIND_CLOSE && ev.close_code == 1000);
    CHECK_STR(ev.reason, "bye");
    CHECK_OK(interlink_ws_connection_close(server, ev.close_code, NULL));
    world_flush(server, client);
    CHECK_OK(interlink_ws_connection_poll_event(client, &ev));
    CHECK(ev.kind == INTERLINK_WS_EVENT_KIND_CLOSE);
    CHECK_OK(interlink_ws_connection_state(client, &st));
    CHECK(st == INTERLINK_WS_STATE_CLOSED);
    interlink_ws_connection_free(client);
    interlink_ws_connection_free(server);

    /* A server receiving an unmasked frame fails the connection with 1002. */
    CHECK_OK(interlink_ws_connection_new(false, 9, &server));
    const uint8_t unmasked[] = {0x81, 0x02, 'h', 'i'};
    CHECK_OK(interlink_ws_connection_feed(server, unmasked, sizeof unmasked));
    CHECK_CODE(interlink_ws_connection_poll_event(server, &ev), INTERLINK_RESULT_PROTOCOL);
    CHECK_OK(interlink_ws_connection_poll_transmit(server, &wire));
    CHECK(wire.len >= 4 && wire.data[0] == 0x88 && wire.data[2] == 0x03 && wire.data[3] == 0xEA);
    interlink_bytes_free(&wire);
    CHECK_CODE(interlink_ws_connection_close(server, 999, NULL), INTERLINK_RESULT_CLOSED);
    interlink_ws_connection_free(server);

    char *accept = NULL;
    CHECK_OK(interlink_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", &accept));
    CHECK_STR(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    interlink_string_free(accept);
}

static void test_sender_helpers(void) {
    interlink_sender *s = NULL;
    CHECK_OK(interlink_sender_new(world_connection_string(), "hc1", WORLD_ORIGIN_MS, &s));
    interlink_sender_request r;
    CHECK_OK(interlink_sender_websocket(s, 0, "chat", "a=1", NULL, &r));
    CHECK_STR(r.url, "ws://127.0.0.1:9090/$hc/hc1/chat?a=1&sb-hc-action=connect");
    CHECK(r.headers_len == 1);
    CHECK_STR(r.headers[0].name, "ServiceBusAuthorization");
    interlink_sas_rule rules[] = {{"root", WORLD_KEY, INTERLINK_RIGHTS_SEND}};
    CHECK_OK(interlink_sas_validate(r.headers[0].value, rules, 1, "127.0.0.1", "hc1",
                                    INTERLINK_RIGHTS_SEND, WORLD_ORIGIN_MS / 1000, 0, NULL));
    CHECK_OK(interlink_sender_http(s, 0, "/x?y=1", &r));
    CHECK_STR(r.url, "http://127.0.0.1:9090/hc1/x?y=1");

    interlink_connect_outcome outcome;
    CHECK_OK(interlink_sender_classify(101, &outcome));
    CHECK(outcome == INTERLINK_CONNECT_OUTCOME_CONNECTED);
    CHECK_OK(interlink_sender_classify(404, &outcome));
    CHECK(outcome == INTERLINK_CONNECT_OUTCOME_TRANSIENT);
    CHECK_OK(interlink_sender_classify(403, &outcome));
    CHECK(outcome == INTERLINK_CONNECT_OUTCOME_FAILED);

    interlink_sender_attempts *a = NULL;
    CHECK_OK(interlink_sender_attempts_new(s, 0, 10000, NULL, NULL, &a));
    interlink_attempt_step step;
    CHECK_OK(interlink_sender_attempts_poll_step(a, &step));
    CHECK(step.kind == INTERLINK_ATTEMPT_STEP_KIND_CONNECT && step.request.headers_len == 1);
    CHECK_OK(interlink_sender_attempts_handle_response(a, 10, 404)); /* first retry: at once */
    CHECK_OK(interlink_sender_attempts_poll_step(a, &step));
    CHECK(step.kind == INTERLINK_ATTEMPT_STEP_KIND_CONNECT);
    CHECK_OK(interlink_sender_attempts_handle_response(a, 20, 404));
    CHECK_OK(interlink_sender_attempts_poll_step(a, &step));
    CHECK(step.kind == INTERLINK_ATTEMPT_STEP_KIND_WAIT && step.wait_until_ms == 1020);
    CHECK_OK(interlink_sender_attempts_handle_timeout(a, 1020));
    CHECK_OK(interlink_sender_attempts_poll_step(a, &step));
    CHECK(step.kind == INTERLINK_ATTEMPT_STEP_KIND_CONNECT);
    CHECK_OK(interlink_sender_attempts_handle_response(a, 1030, 401));
    CHECK_OK(interlink_sender_attempts_poll_step(a, &step));
    CHECK(step.kind == INTERLINK_ATTEMPT_STEP_KIND_FAILED && step.status == 401);
    interlink_sender_attempts_free(a);
    interlink_sender_free(s);

    CHECK_CODE(interlink_sender_new("Endpoint=nonsense", "hc1", 0, &s),
               INTERLINK_RESULT_INVALID_ARGUMENT);
    CHECK_CODE(interlink_sender_new("Endpoint=sb://h/", NULL, 0, &s),
               INTERLINK_RESULT_INVALID_ARGUMENT);
}

static void test_listener_machine_backoff(void) {
    interlink_listener_machine *lm = NULL;
    interlink_listener_machine_config c;
    memset(&c, 0, sizeof c);
    c.connection_string = world_connection_string();
    c.entity_path = "hc1";
    uint64_t delays[] = {0, 500};
    c.reconnect_delays_ms = delays;
    c.reconnect_delays_len = 2;
    CHECK_OK(interlink_listener_machine_new(&c, &lm));
    interlink_listener_output o;
    uint64_t at = 0;
    CHECK_CODE(interlink_listener_machine_poll_timeout(lm, &at), INTERLINK_RESULT_WOULD_BLOCK);
    CHECK_OK(interlink_listener_machine_start(lm, 0));
    CHECK_OK(interlink_listener_machine_poll_output(lm, &o));
    CHECK(o.kind == INTERLINK_LISTENER_OUTPUT_KIND_CONNECT);
    CHECK_STR(o.url, "ws://127.0.0.1:9090/$hc/hc1?sb-hc-action=listen");
    CHECK_OK(interlink_listener_machine_handle_connect_failed(lm, 503, "busy", 0));
    CHECK_OK(interlink_listener_machine_poll_output(lm, &o));
    CHECK(o.kind == INTERLINK_LISTENER_OUTPUT_KIND_OFFLINE);
    CHECK_STR(o.reason, "busy");
    CHECK_OK(interlink_listener_machine_poll_timeout(lm, &at));
    CHECK(at == 0);
    CHECK_OK(interlink_listener_machine_handle_timeout(lm, 0));
    CHECK_OK(interlink_listener_machine_poll_output(lm, &o));
    CHECK(o.kind == INTERLINK_LISTENER_OUTPUT_KIND_CONNECT);
    CHECK_OK(interlink_listener_machine_handle_connect_failed(lm, 0, NULL, 10));
    CHECK_OK(interlink_listener_machine_poll_output(lm, &o));
    CHECK_OK(interlink_listener_machine_poll_timeout(lm, &at));
    CHECK(at == 510);
    CHECK_OK(interlink_listener_machine_handle_timeout(lm, 510));
    CHECK_OK(interlink_listener_machine_poll_output(lm, &o));
    CHECK(o.kind == INTERLINK_LISTENER_OUTPUT_KIND_CONNECT);
    /* 404: the hybrid connection does not exist; the listener stops for good. */
    CHECK_OK(interlink_listener_machine_handle_connect_failed(lm, 404, "no such", 600));
    CHECK_OK(interlink_listener_machine_poll_output(lm, &o));
    CHECK(o.kind == INTERLINK_LISTENER_OUTPUT_KIND_STOPPED);
    CHECK_CODE(interlink_listener_machine_poll_output(lm, &o), INTERLINK_RESULT_WOULD_BLOCK);
    interlink_listener_machine_free(lm);

    c.connection_string = "Endpoint=sb://127.0.0.1:9090/";
    CHECK_CODE(interlink_listener_machine_new(&c, &lm), INTERLINK_RESULT_AUTH);
}

static void test_gateway_refusals(void) {
    world w;
    CHECK(world_init(&w) == 0);
    interlink_sender *s = NULL;
    CHECK_OK(interlink_sender_new(world_connection_string(), "hc1", WORLD_ORIGIN_MS, &s));
    interlink_sender_request r;
    /* No listener yet: a WebSocket sender is refused with 404, an HTTP sender gets 502. */
    CHECK_OK(interlink_sender_websocket(s, 0, NULL, NULL, NULL, &r));
    CHECK_OK(world_upgrade(&w, 10, r.url, r.headers, r.headers_len));
    CHECK_OK(interlink_sender_http(s, 0, "/", &r));
    CHECK_OK(interlink_gateway_machine_handle_http_request(w.gw, 11, "GET", "/hc1", NULL, r.headers,
                                                           r.headers_len, WORLD_HOST, NULL, 0,
                                                           false, 0));
    /* No token: 401. Unknown hybrid connection: 404. */
    CHECK_OK(world_upgrade(&w, 12, "ws://127.0.0.1:9090/$hc/hc1?sb-hc-action=listen", NULL, 0));
    CHECK_OK(world_upgrade(&w, 13, "ws://127.0.0.1:9090/$hc/nope?sb-hc-action=listen", NULL, 0));
    world_pump(&w);
    world_event *e = world_find(&w, INTERLINK_GATEWAY_OUTPUT_KIND_REFUSE, 10);
    CHECK(e && e->status == 404);
    e = world_find(&w, INTERLINK_GATEWAY_OUTPUT_KIND_HTTP_RESPONSE, 11);
    CHECK(e && e->status == 502 && strstr(e->body, "No listener") != NULL);
    e = world_find(&w, INTERLINK_GATEWAY_OUTPUT_KIND_REFUSE, 12);
    CHECK(e && e->status == 401);
    e = world_find(&w, INTERLINK_GATEWAY_OUTPUT_KIND_REFUSE, 13);
    CHECK(e && e->status == 404);
    size_t count = 99;
    CHECK_OK(interlink_gateway_machine_listener_count(w.gw, "hc1", &count));
    CHECK(count == 0);
    uint64_t at;
    CHECK_CODE(interlink_gateway_machine_poll_timeout(w.gw, &at), INTERLINK_RESULT_WOULD_BLOCK);
    interlink_sender_free(s);
    world_free(&w);
}

/* Extracts the sb-hc-id value of an address into `id`. */
static void hc_id(const char *address, char *id, size_t cap) {
    const char *p = strstr(address, "sb-hc-id=");
    id[0] = '\0';
    if (!p) return;
    p += strlen("sb-hc-id=");
    size_t n = strcspn(p, "&");
    snprintf(id, cap, "%.*s", (int)n, p);
}

/* Re-sends every message `from` received on `to` (the gateway forwarding a paired socket). */
static int forward(interlink_ws_connection *from, interlink_ws_connection *to) {
    int n = 0;
    interlink_ws_event ev;
    while (interlink_ws_connection_poll_event(from, &ev) == INTERLINK_RESULT_OK) {
        n++;
        if (ev.kind == INTERLINK_WS_EVENT_KIND_TEXT)
            interlink_ws_connection_send_text(to, (const char *)ev.data, ev.data_len);
        else if (ev.kind == INTERLINK_WS_EVENT_KIND_BINARY)
            interlink_ws_connection_send_binary(to, ev.data, ev.data_len);
        else if (ev.kind == INTERLINK_WS_EVENT_KIND_CLOSE)
            interlink_ws_connection_close(to, ev.close_code, ev.reason);
    }
    return n;
}

static void test_full_rendezvous_in_memory(void) {
    world w;
    CHECK(world_init(&w) == 0);
    CHECK(world_connect_listener(&w) == 0);
    size_t count = 0;
    CHECK_OK(interlink_gateway_machine_listener_count(w.gw, "hc1", &count));
    CHECK(count == 1);

    /* A sender's connect becomes an accept on the listener's control channel. */
    interlink_sender *s = NULL;
    CHECK_OK(interlink_sender_new(world_connection_string(), "hc1", WORLD_ORIGIN_MS, &s));
    interlink_sender_request r;
    CHECK_OK(interlink_sender_websocket(s, w.now, "chat", "room=1", "sender-7", &r));
    w.now = 5;
    CHECK_OK(world_upgrade(&w, 2, r.url, r.headers, r.headers_len));
    world_pump(&w);
    CHECK(w.accepts == 1);
    CHECK_STR(w.accept_id, "sender-7");
    CHECK(strstr(w.accept_url, "sb-hc-action=accept") != NULL);
    CHECK(strstr(w.accept_url, "room=1") != NULL);
    char id[256];
    hc_id(w.accept_url, id, sizeof id);
    CHECK(strlen(id) == 36);

    /* The listener opens the accept address: the gateway pairs the two sockets. */
    CHECK_OK(world_upgrade(&w, 3, w.accept_url, NULL, 0));
    world_pump(&w);
    world_event *up3 = world_find(&w, INTERLINK_GATEWAY_OUTPUT_KIND_UPGRADE, 3);
    world_event *up2 = world_find(&w, INTERLINK_GATEWAY_OUTPUT_KIND_UPGRADE, 2);
    CHECK(up3 && up3->paired && up3->peer == 2);
    CHECK(up2 && up2->paired && up2->peer == 3);
    /* The same address cannot be used twice. */
    CHECK_OK(world_upgrade(&w, 4, w.accept_url, NULL, 0));
    world_pump(&w);
    world_event *again = world_find(&w, INTERLINK_GATEWAY_OUTPUT_KIND_REFUSE, 4);
    CHECK(again && again->status == 403);

    /* Frames flow through the pair: sender -> listener and back (an echo). */
    interlink_ws_connection *snd, *g2, *g3, *rdv;
    CHECK_OK(interlink_ws_connection_new(true, 11, &snd));
    CHECK_OK(interlink_ws_connection_new(false, 12, &g2));
    CHECK_OK(interlink_ws_connection_new(false, 13, &g3));
    CHECK_OK(interlink_ws_connection_new(true, 14, &rdv));
    CHECK_OK(interlink_ws_connection_send_text(snd, "hello listener", 14));
    world_flush(snd, g2);
    CHECK(forward(g2, g3) == 1);
    world_flush(g3, rdv);
    interlink_ws_event ev;
    CHECK_OK(interlink_ws_connection_poll_event(rdv, &ev));
    CHECK(ev.kind == INTERLINK_WS_EVENT_KIND_TEXT);
    CHECK_STR((const char *)ev.data, "hello listener");
    CHECK_OK(interlink_ws_connection_send_text(rdv, "echo", 4));
    world_flush(rdv, g3);
    CHECK(forward(g3, g2) == 1);
    world_flush(g2, snd);
    CHECK_OK(interlink_ws_connection_poll_event(snd, &ev));
    CHECK_STR((const char *)ev.data, "echo");
    /* Close passes through; the listener answers it. */
    CHECK_OK(interlink_ws_connection_close(snd, 1000, NULL));
    world_flush(snd, g2);
    forward(g2, g3);
    world_flush(g3, rdv);
    CHECK_OK(interlink_ws_connection_poll_event(rdv, &ev));
    CHECK(ev.kind == INTERLINK_WS_EVENT_KIND_CLOSE && ev.close_code == 1000);
    CHECK_OK(interlink_ws_connection_close(rdv, 1000, NULL));
    world_flush(rdv, g3);
    forward(g3, g2);
    world_flush(g2, snd);
    CHECK_OK(interlink_ws_connection_poll_event(snd, &ev));
    interlink_ws_state st;
    CHECK_OK(interlink_ws_connection_state(snd, &st));
    CHECK(st == INTERLINK_WS_STATE_CLOSED);
    interlink_ws_connection_free(snd);
    interlink_ws_connection_free(g2);
    interlink_ws_connection_free(g3);
    interlink_ws_connection_free(rdv);
    interlink_gateway_machine_handle_disconnect(w.gw, 2, w.now);
    interlink_gateway_machine_handle_disconnect(w.gw, 3, w.now);

    /* An HTTP request over the control channel, answered inline by the listener. */
    CHECK_OK(interlink_sender_http(s, w.now, "/hello?x=1", &r));
    char host[2048], path[2048], query[2048];
    split_url(r.url, host, path, query, sizeof host);
    interlink_header hs[3] = {{"Host", WORLD_HOST}, {"X-Trace", "abc"}, r.headers[0]};
    CHECK_OK(interlink_gateway_machine_handle_http_request(w.gw, 20, "POST", path, query, hs, 3,
                                                           WORLD_HOST, (const uint8_t *)"ping", 4,
                                                           false, w.now));
    world_pump(&w);
    CHECK(w.requests == 1);
    CHECK_STR(w.request_method, "POST");
    CHECK_STR(w.request_target, "/hc1/hello?x=1");
    CHECK(w.request_body_len == 4 && strcmp(w.request_body, "ping") == 0);
    bool fits = false;
    CHECK_OK(interlink_listener_machine_fits_inline(w.lm, 13, &fits));
    CHECK(fits);
    interlink_header rh[] = {{"x-from", "C"}, {"Content-Length", "13"}};
    CHECK_OK(interlink_listener_machine_respond_inline(w.lm, w.request_id, 201, NULL, rh, 2,
                                                       (const uint8_t *)"hello from C!", 13));
    world_pump(&w);
    world_event *resp = world_find(&w, INTERLINK_GATEWAY_OUTPUT_KIND_HTTP_RESPONSE, 20);
    CHECK(resp && resp->status == 201);
    CHECK(resp && strcmp(resp->reason, "Created") == 0);
    CHECK(resp && resp->body_len == 13 && strcmp(resp->body, "hello from C!") == 0);
    CHECK(resp && strcmp(resp->custom_header, "C") == 0);
    CHECK(resp && strcmp(resp->via, "1.1 127.0.0.1") == 0);

    /* Keepalive: sleeping from deadline to deadline, the gateway pings 20 s after the
     * control channel was last heard from; the listener's pong counts as an answer. */
    uint64_t at = 0;
    uint64_t last_heard = w.now;
    for (int i = 0; i < 5 && w.pings_from_gateway == 0; i++) {
        CHECK_OK(interlink_gateway_machine_poll_timeout(w.gw, &at));
        CHECK(at >= w.now);
        w.now = at;
        CHECK_OK(interlink_gateway_machine_handle_timeout(w.gw, w.now));
        world_pump(&w);
    }
    CHECK(w.pings_from_gateway == 1);
    CHECK(w.now == last_heard + 20000);
    CHECK_OK(interlink_listener_machine_poll_timeout(w.lm, &at));
    CHECK(at > w.now);

    /* The listener closes: the gateway answers and forgets it. */
    CHECK_OK(interlink_listener_machine_close(w.lm));
    world_pump(&w);
    CHECK_OK(interlink_gateway_machine_listener_count(w.gw, "hc1", &count));
    CHECK(count == 0);
    interlink_sender_free(s);
    world_free(&w);
}

static void test_accept_deadline(void) {
    world w;
    CHECK(world_init(&w) == 0);
    CHECK(world_connect_listener(&w) == 0);
    interlink_sender *s = NULL;
    CHECK_OK(interlink_sender_new(world_connection_string(), "hc1", WORLD_ORIGIN_MS, &s));
    interlink_sender_request r;
    CHECK_OK(interlink_sender_websocket(s, 0, NULL, NULL, NULL, &r));
    CHECK_OK(world_upgrade(&w, 2, r.url, r.headers, r.headers_len));
    world_pump(&w);
    CHECK(w.accepts == 1);
    /* Nobody opens the accept address: 30 s later the held sender gets 504. */
    w.now = 30000;
    CHECK_OK(interlink_gateway_machine_handle_timeout(w.gw, w.now));
    world_pump(&w);
    world_event *e = world_find(&w, INTERLINK_GATEWAY_OUTPUT_KIND_REFUSE, 2);
    CHECK(e && e->status == 504);
    interlink_sender_free(s);
    world_free(&w);
}

static void test_request_rendezvous_in_memory(void) {
    world w;
    CHECK(world_init(&w) == 0);
    CHECK(world_connect_listener(&w) == 0);
    interlink_sender *s = NULL;
    CHECK_OK(interlink_sender_new(world_connection_string(), "hc1", WORLD_ORIGIN_MS, &s));
    interlink_sender_request r;
    CHECK_OK(interlink_sender_http(s, 0, "/upload", &r));
    interlink_header hs[2] = {{"Host", WORLD_HOST}, r.headers[0]};
    /* A 70000-byte body is too large for the control channel: rendezvous-only request. */
    uint8_t *body = calloc(70000, 1);
    body[69999] = 7;
    CHECK_OK(interlink_gateway_machine_handle_http_request(w.gw, 21, "PUT", "/hc1/upload", NULL, hs, 2,
                                                           WORLD_HOST, body, 70000, false, 0));
    free(body);
    world_pump(&w);
    CHECK(w.requests == 0 && w.rendezvous_requests == 1);
    CHECK(strstr(w.rendezvous_url, "sb-hc-action=request") != NULL);
    /* The listener opens the address: the gateway upgrades it and delivers request + body. */
    CHECK_OK(world_upgrade(&w, 30, w.rendezvous_url, NULL, 0));
    world_pump(&w);
    world_event *up = world_find(&w, INTERLINK_GATEWAY_OUTPUT_KIND_UPGRADE, 30);
    CHECK(up && !up->paired);
    world_event *req = world_find(&w, INTERLINK_GATEWAY_OUTPUT_KIND_SEND, 30);
    CHECK(req && req->ws_kind == INTERLINK_WS_OUT_KIND_TEXT && strstr(req->body, "\"method\":\"PUT\"") != NULL);
    world_event *rb = world_find(&w, INTERLINK_GATEWAY_OUTPUT_KIND_SEND_REQUEST_BODY, 30);
    CHECK(rb && rb->body_len == 70000);
    /* The listener answers on the rendezvous socket: head, then the body in two pieces. */
    char *head = NULL;
    interlink_header rh[] = {{"Content-Type", "text/plain"}};
    CHECK_OK(interlink_listener_rendezvous_response_head(w.rendezvous_id, 200, NULL, rh, 1, true, &head));
    CHECK(head && strstr(head, "\"requestId\"") != NULL);
    CHECK_OK(interlink_gateway_machine_handle_text(w.gw, 30, head, strlen(head), 1));
    interlink_string_free(head);
    CHECK_OK(interlink_gateway_machine_handle_binary(w.gw, 30, (const uint8_t *)"abc", 3, false, 2));
    CHECK_OK(interlink_gateway_machine_handle_binary(w.gw, 30, (const uint8_t *)"def", 3, true, 3));
    world_pump(&w);
    world_event *resp = world_find(&w, INTERLINK_GATEWAY_OUTPUT_KIND_HTTP_RESPONSE, 21);
    CHECK(resp && resp->status == 200 && resp->body_kind == INTERLINK_BODY_KIND_STREAMING);
    int pieces = 0;
    for (int i = 0; i < w.n_events; i++)
        if (w.events[i].kind == INTERLINK_GATEWAY_OUTPUT_KIND_HTTP_BODY && w.events[i].conn == 21) pieces++;
    CHECK(pieces == 2);
    world_event *last = world_find(&w, INTERLINK_GATEWAY_OUTPUT_KIND_HTTP_BODY, 21);
    CHECK(last && strcmp(last->body, "def") == 0);
    CHECK(world_find(&w, INTERLINK_GATEWAY_OUTPUT_KIND_HTTP_END, 21) != NULL);
    interlink_sender_free(s);
    world_free(&w);
}

static void test_malformed_control_message(void) {
    world w;
    CHECK(world_init(&w) == 0);
    CHECK(world_connect_listener(&w) == 0);
    /* The gateway closes a control channel that sends something other than JSON (1002). */
    CHECK_OK(interlink_ws_connection_send_text(w.ctl_l, "not json", 8));
    world_pump(&w);
    CHECK(w.offline == 1);
    size_t count = 1;
    CHECK_OK(interlink_gateway_machine_listener_count(w.gw, "hc1", &count));
    CHECK(count == 0);
    /* The listener schedules a reconnect. */
    uint64_t at = 0;
    CHECK_OK(interlink_listener_machine_poll_timeout(w.lm, &at));
    world_free(&w);
}

int main(void) {
    RUN(test_boundary_codes_and_messages);
    RUN(test_sas_tokens);
    RUN(test_addresses);
    RUN(test_ws_codec);
    RUN(test_sender_helpers);
    RUN(test_listener_machine_backoff);
    RUN(test_gateway_refusals);
    RUN(test_full_rendezvous_in_memory);
    RUN(test_accept_deadline);
    RUN(test_request_rendezvous_in_memory);
    RUN(test_malformed_control_message);
    return check_report();
}
