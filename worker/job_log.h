#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace sluice {

// What a secret's value becomes in a job's log (GitLab's word).
inline constexpr std::string_view kMaskedText = "[MASKED]";
// Values shorter than this are not masked: GitLab refuses to mask a variable of fewer than 8
// characters, and masking "1" or "true" would make every log unreadable while hiding nothing.
inline constexpr size_t kMinMaskedBytes = 8;
// A worker's note longer than this is cut ("…" follows).
inline constexpr size_t kMaxNoteBytes = 8 * 1024;

// Replaces every occurrence of every secret value in a stream of bytes by kMaskedText, whatever
// the chunks the stream arrives in: a value cut across two writes or across many is masked as if
// it had come in one. Only the literal values are masked (not base64 or other encodings of them);
// empty values and values shorter than kMinMaskedBytes are ignored.
//
// Where occurrences overlap (two secrets sharing bytes, one secret a prefix of another, a value
// repeated so that its occurrences overlap), the union of the bytes they cover becomes ONE
// kMaskedText, so that no byte of any occurrence is ever output (the longest match wins, and a
// match overlapping another is not cut short). Occurrences that merely touch are masked each.
//
// Between writes it holds back the bytes that could still start a secret: at most the length of
// the longest secret minus one. Matching is an Aho-Corasick automaton: linear in the output
// (amortised over writes) whatever the number of secrets. Not thread-safe.
class SecretMasker {
 public:
  explicit SecretMasker(const std::vector<std::string>& secrets);
  ~SecretMasker();
  SecretMasker(SecretMasker&&) noexcept;
  SecretMasker& operator=(SecretMasker&&) noexcept;

  // Masks `bytes`, the stream's next chunk, and appends to *out what is now certain.
  void Write(std::string_view bytes, std::string* out);
  // The stream's end: appends what was held back. The next Write starts a new stream.
  void Flush(std::string* out);
  // `text` masked as a stream of its own; this masker's stream is not touched.
  std::string MaskWhole(std::string_view text) const;

  // Bytes of the stream held back, not yet appended to any output.
  size_t held_bytes() const { return pending_.size(); }
  // Whether there is any value to mask at all.
  bool empty() const;

 private:
  struct Automaton;
  struct Region {  // a masked range of the stream, [start, end) in stream offsets
    uint64_t start;
    uint64_t end;
  };
  explicit SecretMasker(std::shared_ptr<const Automaton> automaton);
  void Cover(uint64_t start, uint64_t end);
  // Appends to *out everything before stream offset `certain` (and any masked region starting
  // there or before), keeping the rest held.
  void Release(uint64_t certain, std::string* out);

  std::shared_ptr<const Automaton> automaton_;
  int32_t state_ = 0;             // the automaton's state after the last byte of the stream
  uint64_t position_ = 0;         // stream offset of the next byte
  uint64_t released_ = 0;         // stream offset of the first byte not yet released
  bool released_masked_ = false;  // the last thing released was kMaskedText (it may still grow)
  std::string pending_;           // the stream's bytes from released_ on
  std::deque<Region> regions_;    // masked regions within pending_, sorted, disjoint
};

// The one writer of a job's log file: the job's output, masked and capped, and the worker's own
// notes. Appends through a descriptor kept open for writing only (O_APPEND); it never reads the
// log. Called from the worker's loop; not thread-safe.
//
// The cap: at most max_bytes of job output are written (kMaskedText counts as 8 bytes; a
// kMaskedText that does not fit whole is left out, never cut). The first output that does not
// fit is replaced by ONE note saying so, and the rest of the job's output is dropped while the
// job goes on. Notes do not count against the cap and are written after it too, so the final
// "finished: ..." line always makes it into the log: they are the worker's own lines, each at
// most kMaxNoteBytes.
//
// Notes are masked as well (a note may quote a command or an environment), each on its own:
// output held back by the masker stays held across a note and follows it. Call Flush() at the
// end of the job's output (before the note that says how it ended) to have it written first.
//
// Write errors (a full disk) do not stop the job: the first one is kept in write_status() and
// later writes are still tried.
class JobLog {
 public:
  // Opens (creates, mode 0644) the log at `path` for appending; refuses a path that is a link or
  // not a regular file. `secrets`: the values to mask (see SecretMasker).
  static StatusOr<std::unique_ptr<JobLog>> Open(const std::string& path, uint64_t max_bytes,
                                                const std::vector<std::string>& secrets);
  ~JobLog();  // flushes what the masker holds, then closes
  JobLog(const JobLog&) = delete;
  JobLog& operator=(const JobLog&) = delete;

  // The job's output, in any chunks.
  void Output(std::string_view bytes);
  // One line of the worker's own, written as "[sluice] <line>\n" on a line of its own (after a
  // newline when the log does not end with one). Masked; control characters escaped
  // (EscapeLogValue), so a note is always exactly one line.
  void Note(std::string_view line);
  // The end of the job's output (or of one step's): writes what the masker held back.
  void Flush();

  // Whether the cap was reached and output dropped.
  bool capped() const { return capped_; }
  // Bytes of job output written to the log, kMaskedText counted as written.
  uint64_t output_bytes() const { return output_bytes_; }
  const Status& write_status() const { return write_status_; }

 private:
  JobLog(int fd, uint64_t max_bytes, const std::vector<std::string>& secrets, bool at_line_start);
  void WriteOutput(std::string_view masked);
  void Append(std::string_view bytes);

  int fd_;
  uint64_t max_bytes_;
  SecretMasker masker_;
  uint64_t output_bytes_ = 0;
  bool capped_ = false;
  bool at_line_start_;
  Status write_status_;
  std::string scratch_;  // masked output on its way to the file
};

}  // namespace sluice
