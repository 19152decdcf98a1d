#include "common/execution_packing.h"

#include <algorithm>
#include <cstring>
#include <initializer_list>
#include <vector>

namespace sluice {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;  // upper case too: it would not come back as it was
}

constexpr char kHexDigits[] = "0123456789abcdef";

// The tags of a packed string.
enum Tag : uint8_t {
  kEmpty = 0,
  kInline = 1,   // length, bytes
  kHex = 2,      // byte count, bytes: lower-case hex of twice as many characters
  kDerived = 3,  // follows from other fields
  kPooled = 4,   // the next id of the pooled list
};

// Bits of the presence word.
enum Present : uint32_t {
  kRefs = 1 << 0,
  kTakesOver = 1 << 1,
  kPodSpec = 1 << 2,
  kMessage = 1 << 3,
  kFingerprint = 1 << 4,
  kGcsPath = 1 << 5,
  kJobToken = 1 << 6,
  kPipelineId = 1 << 7,
  kProjectId = 1 << 8,
};

void PutVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

uint64_t ZigZag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
int64_t UnZigZag(uint64_t v) { return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1); }

// Appends a length-prefixed field to a composite pooled string.
void PutField(std::string* out, std::string_view field) {
  PutVarint(out, field.size());
  out->append(field);
}

bool IsHex(std::string_view s) {
  if (s.size() < 2 || s.size() % 2 != 0) return false;
  for (char c : s) {
    if (HexValue(c) < 0) return false;
  }
  return true;
}

// Whether `s` is exactly the parts one after the other.
bool IsConcat(std::string_view s, std::initializer_list<std::string_view> parts) {
  size_t at = 0;
  for (std::string_view part : parts) {
    if (s.size() - at < part.size() || s.compare(at, part.size(), part) != 0) return false;
    at += part.size();
  }
  return at == s.size();
}

std::string Concat(std::initializer_list<std::string_view> parts) {
  std::string s;
  for (std::string_view part : parts) s.append(part);
  return s;
}

class Writer {
 public:
  explicit Writer(StringPool& pool) : pool_(pool) {}

  void Varint(uint64_t v) { PutVarint(&body_, v); }
  void Signed(int64_t v) { PutVarint(&body_, ZigZag(v)); }
  void Text(std::string_view s) {
    if (s.empty()) {
      body_.push_back(kEmpty);
    } else if (IsHex(s)) {
      body_.push_back(kHex);
      PutVarint(&body_, s.size() / 2);
      for (size_t i = 0; i < s.size(); i += 2) {
        body_.push_back(static_cast<char>(HexValue(s[i]) * 16 + HexValue(s[i + 1])));
      }
    } else {
      body_.push_back(kInline);
      PutField(&body_, s);
    }
  }
  // `s`, or one byte when it is what the reader will derive.
  void Derivable(std::string_view s, bool derived) {
    if (derived && !s.empty()) {
      body_.push_back(kDerived);
    } else {
      Text(s);
    }
  }
  void Pooled(std::string_view s) {
    if (s.empty()) {
      body_.push_back(kEmpty);
      return;
    }
    body_.push_back(kPooled);
    pooled_.push_back(pool_.Intern(s));
  }
  void Finish(std::string* out) {
    out->clear();
    PutVarint(out, pooled_.size());
    for (uint32_t id : pooled_) PutVarint(out, id);
    out->append(body_);
  }

 private:
  StringPool& pool_;
  std::string body_;
  std::vector<uint32_t> pooled_;
};

// Reads what Writer wrote. Packed strings come from this process's own Writer only, so a
// malformed one is a bug; reading stops at the end rather than past it.
class Reader {
 public:
  Reader(std::string_view packed, const StringPool* pool) : data_(packed), pool_(pool) {
    uint64_t n = Varint();
    ids_at_ = at_;
    for (uint64_t i = 0; i < n; ++i) Varint();
    ids_left_ = n;
  }

  // The pooled ids, in order, without reading the body.
  template <typename F>
  void ForEachPooled(F f) {
    size_t body = at_;
    at_ = ids_at_;
    for (uint64_t i = 0; i < ids_left_; ++i) f(static_cast<uint32_t>(Varint()));
    at_ = body;
  }

  uint64_t Varint() {
    uint64_t v = 0;
    for (int shift = 0; at_ < data_.size() && shift < 64; shift += 7) {
      uint8_t b = static_cast<uint8_t>(data_[at_++]);
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) break;
    }
    return v;
  }
  int64_t Signed() { return UnZigZag(Varint()); }
  template <typename Derive>
  std::string TextOr(Derive derive) {
    uint8_t tag =
        at_ < data_.size() ? static_cast<uint8_t>(data_[at_++]) : static_cast<uint8_t>(kEmpty);
    switch (tag) {
      case kInline:
        return Field();
      case kHex: {
        size_t n = std::min<size_t>(Varint(), data_.size() - at_);
        std::string s;
        s.reserve(2 * n);
        for (size_t i = 0; i < n; ++i) {
          uint8_t b = static_cast<uint8_t>(data_[at_++]);
          s.push_back(kHexDigits[b >> 4]);
          s.push_back(kHexDigits[b & 15]);
        }
        return s;
      }
      case kDerived:
        return derive();
      case kPooled:
        return NextPooled();
      default:
        return "";
    }
  }
  std::string Text() {
    return TextOr([] { return std::string(); });
  }
  std::string Field() {
    size_t n = std::min<size_t>(Varint(), data_.size() - at_);
    std::string s(data_.substr(at_, n));
    at_ += n;
    return s;
  }

 private:
  std::string NextPooled() {
    if (ids_left_ == 0 || pool_ == nullptr) return "";
    size_t body = at_;
    at_ = ids_at_;
    uint32_t id = static_cast<uint32_t>(Varint());
    ids_at_ = at_;
    --ids_left_;
    at_ = body;
    return pool_->Get(id);
  }

  std::string_view data_;
  const StringPool* pool_;
  size_t at_ = 0;
  size_t ids_at_ = 0;
  uint64_t ids_left_ = 0;
};

// A composite pooled string read field by field.
class Fields {
 public:
  explicit Fields(std::string text) : text_(std::move(text)), r_(text_, nullptr) {}
  std::string Next() { return r_.Field(); }
  uint64_t Count() { return r_.Varint(); }

 private:
  std::string text_;
  Reader r_;  // a composite reads as a packed string without pooled ids (its leading 0)
};

std::string CompositeHeader() { return std::string(1, '\0'); }  // Fields' empty id list

std::string RefsShape(const Refs& r) {
  std::string s = CompositeHeader();
  for (const std::string* f :
       {&r.org, &r.repo, &r.repo_link, &r.base_ref, &r.path_alias, &r.clone_uri}) {
    PutField(&s, *f);
  }
  return s;
}

std::string PullAuthor(const Pull& p) {
  std::string s = CompositeHeader();
  PutField(&s, p.author);
  PutField(&s, p.author_link);
  return s;
}

std::string PodSpecText(const PodSpecOptions& o) {
  std::string s = CompositeHeader();
  for (const auto* m : {&o.envs, &o.labels, &o.annotations}) {
    PutVarint(&s, m->size());
    for (const auto& [k, v] : *m) {
      PutField(&s, k);
      PutField(&s, v);
    }
  }
  return s;
}

bool IsEmpty(const PodSpecOptions& o) {
  return o.envs.empty() && o.labels.empty() && o.annotations.empty();
}

// gcs_path is <root>/<job_name>/<id> (ArtifactsPathFor) unless a caller set something else.
bool GcsPathFollows(const Execution& e, std::string_view* root) {
  const std::string& p = e.gcs_path;
  size_t tail = e.job_name.size() + e.id.size() + 2;
  if (p.size() <= tail) return false;
  std::string_view prefix(p.data(), p.size() - tail);
  if (!IsConcat(p, {prefix, "/", e.job_name, "/", e.id})) return false;
  *root = prefix;
  return true;
}

}  // namespace

bool PackUuid(std::string_view id, uint8_t out[16]) {
  if (id.size() != 36) return false;
  int n = 0;
  for (size_t i = 0; i < 36; i += 2) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (id[i] != '-') return false;
      ++i;
    }
    int hi = HexValue(id[i]);
    int lo = HexValue(id[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[n++] = static_cast<uint8_t>(hi * 16 + lo);
  }
  return n == 16;
}

std::string UnpackUuid(const uint8_t b[16]) {
  std::string s;
  s.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) s.push_back('-');
    s.push_back(kHexDigits[b[i] >> 4]);
    s.push_back(kHexDigits[b[i] & 15]);
  }
  return s;
}

PackedBytes::PackedBytes(std::string_view bytes) {
  std::string length;
  PutVarint(&length, bytes.size());
  data_ = std::make_unique_for_overwrite<char[]>(length.size() + bytes.size());
  std::memcpy(data_.get(), length.data(), length.size());
  if (!bytes.empty()) std::memcpy(data_.get() + length.size(), bytes.data(), bytes.size());
}

std::string_view PackedBytes::view() const {
  if (!data_) return {};
  uint64_t n = 0;
  size_t at = 0;
  for (int shift = 0;; shift += 7) {
    uint8_t b = static_cast<uint8_t>(data_[at++]);
    n |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) break;
  }
  return std::string_view(data_.get() + at, n);
}

void EncodeCold(const Execution& e, std::string_view fingerprint, StringPool& pool,
                std::string* out) {
  uint32_t present = 0;
  if (e.refs) present |= kRefs;
  if (e.takes_over) present |= kTakesOver;
  if (!IsEmpty(e.pod_spec_options)) present |= kPodSpec;
  if (!e.message.empty()) present |= kMessage;
  if (!fingerprint.empty()) present |= kFingerprint;
  if (!e.gcs_path.empty()) present |= kGcsPath;
  if (!e.job_token_sha256.empty()) present |= kJobToken;
  if (e.pipeline_id != 0) present |= kPipelineId;
  if (e.project_id != 0) present |= kProjectId;

  Writer w(pool);
  w.Varint(present);
  if (e.refs) {
    const Refs& r = *e.refs;
    w.Pooled(RefsShape(r));
    w.Text(r.base_sha);
    w.Derivable(r.base_link, IsConcat(r.base_link, {r.repo_link, "/commit/", r.base_sha}));
    w.Varint(r.pulls.size());
    for (const Pull& p : r.pulls) {
      std::string number = std::to_string(p.number);
      w.Signed(p.number);
      w.Pooled(PullAuthor(p));
      w.Text(p.sha);
      w.Text(p.title);
      w.Text(p.ref);
      w.Derivable(p.link, IsConcat(p.link, {r.repo_link, "/pull/", number}));
      w.Derivable(p.commit_link, IsConcat(p.commit_link, {p.link, "/commits/", p.sha}));
    }
  }
  if (e.takes_over) {
    w.Pooled(e.takes_over->worker);
    w.Signed(e.takes_over->attempt);
    const auto& t = e.takes_over->heartbeat_time;
    w.Varint(t ? 1 : 0);
    if (t) {
      w.Signed(
          std::chrono::duration_cast<std::chrono::milliseconds>(t->time_since_epoch()).count());
    }
  }
  if (present & kPodSpec) w.Pooled(PodSpecText(e.pod_spec_options));
  if (present & kMessage) w.Pooled(e.message);
  if (present & kFingerprint) w.Text(fingerprint);
  if (present & kGcsPath) {
    std::string_view root;
    if (GcsPathFollows(e, &root)) {
      w.Derivable(e.gcs_path, true);
      w.Pooled(root);
    } else {
      w.Text(e.gcs_path);
    }
  }
  if (present & kJobToken) w.Text(e.job_token_sha256);
  if (present & kPipelineId) w.Signed(e.pipeline_id);
  if (present & kProjectId) w.Signed(e.project_id);
  w.Finish(out);
}

void DecodeCold(std::string_view packed, const StringPool& pool, Execution* e) {
  Reader r(packed, &pool);
  uint64_t present = r.Varint();
  if (present & kRefs) {
    Refs refs;
    {
      Fields shape(r.Text());
      for (std::string* f : {&refs.org, &refs.repo, &refs.repo_link, &refs.base_ref,
                             &refs.path_alias, &refs.clone_uri}) {
        *f = shape.Next();
      }
    }
    refs.base_sha = r.Text();
    refs.base_link = r.TextOr([&] { return Concat({refs.repo_link, "/commit/", refs.base_sha}); });
    uint64_t pulls = r.Varint();
    for (uint64_t i = 0; i < pulls; ++i) {
      Pull p;
      p.number = static_cast<int>(r.Signed());
      Fields author(r.Text());
      p.author = author.Next();
      p.author_link = author.Next();
      p.sha = r.Text();
      p.title = r.Text();
      p.ref = r.Text();
      std::string number = std::to_string(p.number);
      p.link = r.TextOr([&] { return Concat({refs.repo_link, "/pull/", number}); });
      p.commit_link = r.TextOr([&] { return Concat({p.link, "/commits/", p.sha}); });
      refs.pulls.push_back(std::move(p));
    }
    e->refs = std::move(refs);
  } else {
    e->refs.reset();
  }
  if (present & kTakesOver) {
    LeaseTakeover t;
    t.worker = r.Text();
    t.attempt = static_cast<int>(r.Signed());
    if (r.Varint() != 0) t.heartbeat_time = TimePoint(std::chrono::milliseconds(r.Signed()));
    e->takes_over = std::move(t);
  } else {
    e->takes_over.reset();
  }
  e->pod_spec_options = PodSpecOptions();
  if (present & kPodSpec) {
    Fields spec(r.Text());
    for (auto* m : {&e->pod_spec_options.envs, &e->pod_spec_options.labels,
                    &e->pod_spec_options.annotations}) {
      uint64_t n = spec.Count();
      for (uint64_t i = 0; i < n; ++i) {
        std::string k = spec.Next();
        (*m)[k] = spec.Next();
      }
    }
  }
  e->message = present & kMessage ? r.Text() : "";
  e->fingerprint = present & kFingerprint ? r.Text() : "";
  e->gcs_path.clear();
  if (present & kGcsPath) {
    bool derived = false;
    std::string text = r.TextOr([&] {
      derived = true;
      return std::string();
    });
    e->gcs_path = derived ? Concat({r.Text(), "/", e->job_name, "/", e->id}) : text;
  }
  e->job_token_sha256 = present & kJobToken ? r.Text() : "";
  e->pipeline_id = present & kPipelineId ? r.Signed() : 0;
  e->project_id = present & kProjectId ? r.Signed() : 0;
}

void ReleaseCold(std::string_view packed, StringPool& pool) {
  Reader r(packed, nullptr);
  r.ForEachPooled([&](uint32_t id) { pool.Release(id); });
}

}  // namespace sluice
