// heraldctl: the admin tool. All logic lives in herald_core (ctl/).

#include "ctl/commands.hpp"
#include "node/hardening.hpp"

int main(int argc, char** argv) {
  // It handles the CA key and data keys too.
  herald::node::disable_core_dumps();
  return herald::ctl::run(argc, argv);
}
