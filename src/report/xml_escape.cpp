// Text for XML: escaped, and always well-formed XML 1.0 whatever the bytes.

#include "tcpleak/report/run_report.hpp"

#include "tcpleak/output/text_format.hpp"

namespace tcpleak {

void append_xml_escaped(std::string& out, std::string_view text, bool attribute) {
    std::size_t i = 0;
    while (i < text.size()) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c < 0x80) {
            switch (c) {
            case '&': out.append("&amp;"); break;
            case '<': out.append("&lt;"); break;
            case '>': out.append("&gt;"); break;
            case '"': out.append("&quot;"); break;
            case '\'': out.append("&apos;"); break;
            case '\r': out.append("&#13;"); break; // parsers turn a raw CR into LF
            case '\t':
            case '\n':
                if (attribute)
                    out.append(c == '\t' ? "&#9;" : "&#10;"); // else normalized to spaces
                else
                    out.push_back(static_cast<char>(c));
                break;
            default:
                if (c < 0x20 || c == 0x7f)
                    append_hex_escape(out, c);
                else
                    out.push_back(static_cast<char>(c));
                break;
            }
            ++i;
            continue;
        }
        const Utf8Sequence seq = next_utf8_sequence(text.substr(i));
        const char32_t cp = seq.code_point;
        const bool allowed = seq.valid && !(cp >= 0x80 && cp <= 0x9f) && cp != 0xfffe && cp != 0xffff &&
                             !(cp >= 0xd800 && cp <= 0xdfff);
        if (allowed) {
            out.append(text.substr(i, seq.length));
        } else {
            for (std::size_t k = 0; k < seq.length; ++k)
                append_hex_escape(out, static_cast<unsigned char>(text[i + k]));
        }
        i += seq.length;
    }
}

} // namespace tcpleak
