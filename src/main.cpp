#include "tcpleak/commands/app.hpp"

int main(int argc, char** argv) { return tcpleak::main_entry(argc, argv); }
