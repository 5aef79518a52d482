// Catch2 entry point for the pure unit tests.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
