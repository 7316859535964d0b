// doctest main for the tokenizer and data-pipeline unit tests (tests/tokenizer/test_*.cpp).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
