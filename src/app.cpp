#include "tcpleak/app.hpp"

#include <cstdio>

namespace tcpleak {

int main_entry(int, char**) {
    std::fputs("tcpleak: not built yet\n", stderr);
    return 1;
}

} // namespace tcpleak
