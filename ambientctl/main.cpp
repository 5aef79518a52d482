// ambientctl: dump, verify and plan the node's redirection. See `ambientctl --help`.
#include <string>
#include <vector>

#include "ambientctl/sys/ctl_app.h"

int main(int argc, char** argv) {
  return ambient::runCtl(std::vector<std::string>(argv + 1, argv + argc));
}
