// The one Boost.Test binary; each suite is registered with CTest on its own.
#define BOOST_TEST_MODULE herald
#include <boost/test/unit_test.hpp>
