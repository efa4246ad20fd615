/* A minimal test harness for the C programs: CHECK* macros record failures of the current
 * test, RUN counts tests, check_report prints "N passed, N failed". */
#ifndef INTERLINK_TEST_CHECK_H
#define INTERLINK_TEST_CHECK_H

#include <stdio.h>
#include <string.h>

#include "interlink.h"

static int check_tests_passed;
static int check_tests_failed;
static int check_current_failures;

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (!(cond)) {                                                                \
            check_current_failures++;                                                 \
            fprintf(stderr, "  %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                             \
    } while (0)

/* Checks that `call` returns `code`, printing the last error message otherwise. */
#define CHECK_CODE(call, code)                                                          \
    do {                                                                                \
        interlink_result check_r_ = (call);                                             \
        if (check_r_ != (interlink_result)(code)) {                                     \
            check_current_failures++;                                                   \
            fprintf(stderr, "  %s:%d: %s returned %s (wanted %s): %s\n", __FILE__,      \
                    __LINE__, #call, interlink_result_name(check_r_),                   \
                    interlink_result_name(code), interlink_last_error_message());       \
        }                                                                               \
    } while (0)

#define CHECK_OK(call) CHECK_CODE(call, INTERLINK_RESULT_OK)

#define CHECK_STR(actual, expected)                                                      \
    do {                                                                                 \
        const char *check_a_ = (actual);                                                 \
        const char *check_e_ = (expected);                                               \
        if (check_a_ == NULL || strcmp(check_a_, check_e_) != 0) {                       \
            check_current_failures++;                                                    \
            fprintf(stderr, "  %s:%d: %s is \"%s\", wanted \"%s\"\n", __FILE__, __LINE__, \
                    #actual, check_a_ ? check_a_ : "(null)", check_e_);                  \
        }                                                                                \
    } while (0)

#define RUN(test)                                              \
    do {                                                       \
        check_current_failures = 0;                            \
        test();                                                \
        if (check_current_failures == 0) {                     \
            check_tests_passed++;                              \
            printf("ok   %s\n", #test);                        \
        } else {                                               \
            check_tests_failed++;                              \
            printf("FAIL %s (%d checks)\n", #test, check_current_failures); \
        }                                                      \
        fflush(stdout);                                        \
    } while (0)

static int check_report(void) {
    printf("%d passed, %d failed\n", check_tests_passed, check_tests_failed);
    return check_tests_failed == 0 ? 0 : 1;
}

#endif
