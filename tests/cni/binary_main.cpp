// Catch2 main of the tests that run the real ambient-cni binaries.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
