// Escaping for the text exposition format. Label values carry process,
// container and pod names, which anyone who can start a process chooses, so
// whatever the bytes, the output is valid UTF-8 and stays on its line:
//  - '\' -> \\ and newline -> \n (plus '"' -> \" in label values), the only
//    escapes the format has;
//  - other control characters (U+0000..U+001F, DEL, C1 U+0080..U+009F) have
//    no escape and would let a name rewrite what a terminal or a line-based
//    tool shows (a bare CR, say): each becomes U+FFFD;
//  - each maximal ill-formed UTF-8 subpart (stray continuation byte,
//    truncated sequence, overlong form, surrogate, > U+10FFFF) becomes one
//    U+FFFD, as Unicode recommends;
//  - well-formed UTF-8 otherwise passes through unchanged.
#pragma once

#include <string>
#include <string_view>

namespace tcpleak::metrics {

// Appends the inside of a quoted label value (without the quotes).
void append_label_value(std::string& out, std::string_view bytes);

// Appends a # HELP docstring (double quotes need no escape there).
void append_help_text(std::string& out, std::string_view bytes);

} // namespace tcpleak::metrics
