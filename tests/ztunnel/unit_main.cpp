// Catch2 main for the ztunnel unit tests. Pure.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
