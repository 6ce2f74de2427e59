#include <fmt/format.h>

int main() {
  fmt::print("kubeproof {}\n", KP_VERSION);
  return 0;
}
