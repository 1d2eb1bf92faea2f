// The program behind main(): parses the command line and runs a command.
#pragma once

namespace tcpleak {

int main_entry(int argc, char** argv);

} // namespace tcpleak
