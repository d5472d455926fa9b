#include "core/json.hpp"

#include <rapidjson/encodedstream.h>
#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

namespace herald::json {

namespace {

/// Whether `s` holds an encoded UTF-16 surrogate (U+D800..U+DFFF, encoded
/// as ED A0..BF xx). Input bytes are validated by the reader; only \u
/// escapes can produce these.
bool has_surrogate(const char* s, rapidjson::SizeType n) {
  for (rapidjson::SizeType i = 0; i + 1 < n; ++i)
    if (static_cast<unsigned char>(s[i]) == 0xED
        && static_cast<unsigned char>(s[i + 1]) >= 0xA0)
      return true;
  return false;
}

/// Passes SAX events on to the document while enforcing the depth limit
/// and strict UTF-8.
template <class Next>
class guard {
public:
  using Ch = char;

  guard(Next& next, size_t depth_limit) : next_(next), limit_(depth_limit) {
    // nop
  }

  bool Null() { return next_.Null(); }
  bool Bool(bool x) { return next_.Bool(x); }
  bool Int(int x) { return next_.Int(x); }
  bool Uint(unsigned x) { return next_.Uint(x); }
  bool Int64(int64_t x) { return next_.Int64(x); }
  bool Uint64(uint64_t x) { return next_.Uint64(x); }
  bool Double(double x) { return next_.Double(x); }

  bool RawNumber(const Ch* s, rapidjson::SizeType n, bool copy) {
    return next_.RawNumber(s, n, copy);
  }

  bool String(const Ch* s, rapidjson::SizeType n, bool copy) {
    return text(s, n) && next_.String(s, n, copy);
  }

  bool Key(const Ch* s, rapidjson::SizeType n, bool copy) {
    return text(s, n) && next_.Key(s, n, copy);
  }

  bool StartObject() { return enter() && next_.StartObject(); }

  bool EndObject(rapidjson::SizeType n) {
    --depth_;
    return next_.EndObject(n);
  }

  bool StartArray() { return enter() && next_.StartArray(); }

  bool EndArray(rapidjson::SizeType n) {
    --depth_;
    return next_.EndArray(n);
  }

  const std::string& error() const { return error_; }

private:
  bool enter() {
    if (++depth_ <= limit_)
      return true;
    error_ = "arrays and objects are nested deeper than "
             + std::to_string(limit_) + " levels";
    return false;
  }

  bool text(const Ch* s, rapidjson::SizeType n) {
    if (!has_surrogate(s, n))
      return true;
    error_ = "a string holds a lone UTF-16 surrogate escape (\\ud800 to "
             "\\udfff), which is no Unicode character";
    return false;
  }

  Next& next_;
  size_t limit_;
  size_t depth_ = 0;
  std::string error_;
};

} // namespace

std::string parse(std::string_view text, rapidjson::Document& doc,
                  size_t depth_limit) {
  constexpr unsigned flags = rapidjson::kParseIterativeFlag
                             | rapidjson::kParseValidateEncodingFlag;
  std::string error;
  auto generate = [&](rapidjson::Document& handler) {
    rapidjson::MemoryStream ms{text.data(), text.size()};
    rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream>
      in{ms};
    guard<rapidjson::Document> g{handler, depth_limit};
    rapidjson::Reader reader;
    auto ok = reader.Parse<flags>(in, g);
    if (!g.error().empty())
      error = g.error();
    else if (ok.IsError())
      error = std::string{rapidjson::GetParseError_En(ok.Code())}
              + " (at byte " + std::to_string(ok.Offset()) + ")";
    return !ok.IsError();
  };
  doc.Populate(generate);
  return error;
}

} // namespace herald::json
