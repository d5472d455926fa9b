// heraldctl: the admin tool. All logic lives in herald_core (ctl/).

#include "ctl/commands.hpp"

int main(int argc, char** argv) {
  return herald::ctl::run(argc, argv);
}
