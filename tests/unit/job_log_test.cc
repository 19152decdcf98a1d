#include "worker/job_log.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

namespace sluice {
namespace {
namespace fs = std::filesystem;

// --- SecretMasker ---

// The text masked by a masker fed `chunks` one by one, then flushed.
std::string MaskChunks(const std::vector<std::string>& secrets,
                       const std::vector<std::string>& chunks) {
  SecretMasker masker(secrets);
  std::string out;
  for (const std::string& chunk : chunks) masker.Write(chunk, &out);
  masker.Flush(&out);
  return out;
}

// The contract, written the slow and obvious way: mark every byte of every occurrence of every
// maskable secret; each run of marked bytes made of overlapping occurrences is one [MASKED].
std::string ReferenceMask(const std::vector<std::string>& secrets, const std::string& text) {
  std::vector<std::pair<size_t, size_t>> occurrences;
  for (const std::string& secret : secrets) {
    if (secret.size() < kMinMaskedBytes) continue;
    for (size_t at = text.find(secret); at != std::string::npos; at = text.find(secret, at + 1)) {
      occurrences.push_back({at, at + secret.size()});
    }
  }
  std::sort(occurrences.begin(), occurrences.end());
  std::vector<std::pair<size_t, size_t>> regions;
  for (const auto& occurrence : occurrences) {
    if (!regions.empty() && occurrence.first < regions.back().second) {
      regions.back().second = std::max(regions.back().second, occurrence.second);
    } else {
      regions.push_back(occurrence);
    }
  }
  std::string out;
  size_t at = 0;
  for (const auto& [start, end] : regions) {
    out += text.substr(at, start - at);
    out += kMaskedText;
    at = end;
  }
  return out + text.substr(at);
}

TEST(SecretMasker, MasksASecretWrittenInOneChunk) {
  EXPECT_EQ(MaskChunks({"hunter2hunter2"}, {"password: hunter2hunter2, ok\n"}),
            "password: [MASKED], ok\n");
}

TEST(SecretMasker, MasksASecretSplitAtEveryBoundary) {
  const std::vector<std::string> secrets = {"s3cr3t-token-value", "ANOTHER_SECRET_42"};
  const std::string text = "token=s3cr3t-token-value and ANOTHER_SECRET_42.\n";
  const std::string expected = "token=[MASKED] and [MASKED].\n";
  for (size_t split = 0; split <= text.size(); ++split) {
    EXPECT_EQ(MaskChunks(secrets, {text.substr(0, split), text.substr(split)}), expected)
        << "split at " << split;
  }
}

TEST(SecretMasker, MasksASecretSplitIntoThreeChunksAtEveryPairOfBoundaries) {
  const std::vector<std::string> secrets = {"s3cr3t-token-value"};
  const std::string text = "a s3cr3t-token-value b s3cr3t-token-value";
  for (size_t i = 0; i <= text.size(); ++i) {
    for (size_t j = i; j <= text.size(); ++j) {
      EXPECT_EQ(MaskChunks(secrets, {text.substr(0, i), text.substr(i, j - i), text.substr(j)}),
                "a [MASKED] b [MASKED]")
          << "splits at " << i << " and " << j;
    }
  }
}

TEST(SecretMasker, MasksASecretWrittenOneByteAtATime) {
  const std::string text = "x=correct-horse-battery\n";
  std::vector<std::string> bytes;
  for (char c : text) bytes.emplace_back(1, c);
  EXPECT_EQ(MaskChunks({"correct-horse-battery"}, bytes), "x=[MASKED]\n");
}

TEST(SecretMasker, OverlappingSecretsBecomeOneMask) {
  // The two share "efgh": masking either alone would leave bytes of the other in the log.
  EXPECT_EQ(MaskChunks({"abcdefgh", "efghijkl"}, {"<abcdefghijkl>"}), "<[MASKED]>");
  EXPECT_EQ(MaskChunks({"efghijkl", "abcdefgh"}, {"<abcdefghijkl>"}), "<[MASKED]>");
}

TEST(SecretMasker, ASecretInsideAnotherIsCoveredByTheLonger) {
  // The inner one is found first (it ends first); the outer one then starts before it.
  EXPECT_EQ(MaskChunks({"CDEFGHIJ", "ABCDEFGHIJKL"}, {"[ABCDEFGHIJKL]"}), "[[MASKED]]");
  EXPECT_EQ(MaskChunks({"CDEFGHIJ", "ABCDEFGHIJKL"}, {"[ABCDEFGHIJK]"}), "[AB[MASKED]K]");
}

TEST(SecretMasker, ASecretThatIsAPrefixOfAnotherLetsTheLongestMatchWin) {
  const std::vector<std::string> secrets = {"password1234", "password123456"};
  EXPECT_EQ(MaskChunks(secrets, {"=password123456="}), "=[MASKED]=");
  EXPECT_EQ(MaskChunks(secrets, {"=password1234="}), "=[MASKED]=");
  EXPECT_EQ(MaskChunks(secrets, {"=password12345="}), "=[MASKED]5=");
  // Split between the two: the shorter has matched, the longer may still.
  EXPECT_EQ(MaskChunks(secrets, {"=password1234", "56="}), "=[MASKED]=");
}

TEST(SecretMasker, ARepeatedSecretIsMaskedAtEachOccurrence) {
  EXPECT_EQ(MaskChunks({"0123456789"}, {"0123456789 x 0123456789 x 0123456789"}),
            "[MASKED] x [MASKED] x [MASKED]");
  // Occurrences that touch without overlapping are masked each.
  EXPECT_EQ(MaskChunks({"0123456789"}, {"01234567890123456789"}), "[MASKED][MASKED]");
}

TEST(SecretMasker, OverlappingOccurrencesOfOneSecretBecomeOneMask) {
  EXPECT_EQ(MaskChunks({"abababab"}, {"-ababababab-"}), "-[MASKED]-");
}

TEST(SecretMasker, ASecretAtTheEndOfTheOutputIsMaskedOnFlush) {
  // "cdefghij" has matched, but what is held may still be the longer secret around it.
  SecretMasker masker({"abcdefghij12", "cdefghij"});
  std::string out;
  masker.Write("key: abcdefghij", &out);
  EXPECT_EQ(out, "key: ");
  masker.Flush(&out);
  EXPECT_EQ(out, "key: ab[MASKED]");
}

TEST(SecretMasker, AMaskWrittenEarlyStandsForTheLongerSecretThatFollows) {
  SecretMasker masker({"deploy-key-1", "deploy-key-12345"});
  std::string out;
  masker.Write("key: deploy-key-1", &out);
  EXPECT_EQ(out, "key: [MASKED]");
  masker.Write("2345 next", &out);
  masker.Flush(&out);
  EXPECT_EQ(out, "key: [MASKED] next");
}

TEST(SecretMasker, APrefixOfASecretAtTheEndIsWrittenOnFlush) {
  SecretMasker masker({"deploy-key-1"});
  std::string out;
  masker.Write("key: deploy-k", &out);
  EXPECT_EQ(out, "key: ");
  EXPECT_EQ(masker.held_bytes(), 8u);
  masker.Flush(&out);
  EXPECT_EQ(out, "key: deploy-k");
  EXPECT_EQ(masker.held_bytes(), 0u);
}

TEST(SecretMasker, AFlushEndsTheStream) {
  // What was written before a flush cannot be masked afterwards: the halves are two streams.
  SecretMasker masker({"split-secret"});
  std::string out;
  masker.Write("split-", &out);
  masker.Flush(&out);
  masker.Write("secret split-secret", &out);
  masker.Flush(&out);
  EXPECT_EQ(out, "split-secret [MASKED]");
}

TEST(SecretMasker, HoldsBackAtMostTheLongestSecretMinusOneByte) {
  const std::string secret = "0123456789abcdef";
  SecretMasker masker({secret, "01234567"});
  std::string out;
  for (size_t i = 0; i < 3 * secret.size(); ++i) {
    masker.Write(std::string(1, secret[i % secret.size()]), &out);
    EXPECT_LE(masker.held_bytes(), secret.size() - 1) << "after byte " << i;
  }
  masker.Write("no secret starts here", &out);
  EXPECT_EQ(masker.held_bytes(), 0u);
}

TEST(SecretMasker, ShortAndEmptyValuesAreNotMasked) {
  EXPECT_EQ(MaskChunks({"", "a", "true", "1234567"}, {"a true 1234567 12345678"}),
            "a true 1234567 12345678");
  EXPECT_EQ(MaskChunks({"12345678"}, {"a true 1234567 12345678"}), "a true 1234567 [MASKED]");
  EXPECT_TRUE(SecretMasker({"", "short"}).empty());
}

TEST(SecretMasker, MasksOnlyTheLiteralValue) {
  // Not its base64 ("c2VjcmV0LXZhbHVl") nor another case.
  EXPECT_EQ(MaskChunks({"secret-value"}, {"c2VjcmV0LXZhbHVl SECRET-VALUE"}),
            "c2VjcmV0LXZhbHVl SECRET-VALUE");
}

TEST(SecretMasker, MasksBinarySecretsAndOutput) {
  const std::string secret("\x00\xff\x01\xfe\n\r\x80\x7f", 8);
  const std::string text = std::string("\xff\x00", 2) + secret + std::string("\x00", 1);
  EXPECT_EQ(MaskChunks({secret}, {text.substr(0, 5), text.substr(5)}),
            std::string("\xff\x00", 2) + "[MASKED]" + std::string("\x00", 1));
}

TEST(SecretMasker, AnEndlessRunOfOverlappingOccurrencesKeepsMemoryBounded) {
  SecretMasker masker({"aaaaaaaa"});
  std::string out;
  const std::string chunk(4096, 'a');
  for (int i = 0; i < 256; ++i) {
    masker.Write(chunk, &out);
    EXPECT_LT(masker.held_bytes(), 8u);
  }
  masker.Flush(&out);
  EXPECT_EQ(out, "[MASKED]");
}

TEST(SecretMasker, MaskWholeLeavesTheStreamAlone) {
  SecretMasker masker({"secret-value"});
  std::string out;
  masker.Write("1 secret-", &out);
  EXPECT_EQ(masker.MaskWhole("note: secret-value secret-"), "note: [MASKED] secret-");
  masker.Write("value 2", &out);
  masker.Flush(&out);
  EXPECT_EQ(out, "1 [MASKED] 2");
}

TEST(SecretMasker, MatchesTheReferenceForRandomTextsSecretsAndSplits) {
  std::mt19937 random(12);
  auto random_string = [&](size_t min, size_t max) {
    std::string s(std::uniform_int_distribution<size_t>(min, max)(random), ' ');
    for (char& c : s) c = "abc"[std::uniform_int_distribution<int>(0, 2)(random)];
    return s;
  };
  for (int round = 0; round < 2000; ++round) {
    std::vector<std::string> secrets;
    for (int i = std::uniform_int_distribution<int>(1, 4)(random); i > 0; --i) {
      secrets.push_back(random_string(6, 12));
    }
    // Texts made mostly of secrets, so that they overlap and touch.
    std::string text;
    for (int i = std::uniform_int_distribution<int>(0, 8)(random); i > 0; --i) {
      text += std::uniform_int_distribution<int>(0, 2)(random) == 0
                  ? random_string(0, 4)
                  : secrets[std::uniform_int_distribution<size_t>(0, secrets.size() - 1)(random)];
    }
    std::vector<std::string> chunks;
    for (size_t at = 0; at < text.size();) {
      size_t size = std::uniform_int_distribution<size_t>(0, 10)(random);
      chunks.push_back(text.substr(at, size));
      at += size;
    }
    ASSERT_EQ(MaskChunks(secrets, chunks), ReferenceMask(secrets, text))
        << "round " << round << ", text " << text;
  }
}

TEST(SecretMasker, MasksFourMiBWithAHundredSecretsInLinearTime) {
  std::mt19937 random(7);
  auto random_string = [&](size_t size) {
    std::string s(size, ' ');
    for (char& c : s) c = static_cast<char>(std::uniform_int_distribution<int>(33, 126)(random));
    return s;
  };
  std::vector<std::string> secrets;
  for (int i = 0; i < 100; ++i) secrets.push_back(random_string(64));
  // Log-like text with a secret every 4 KiB and near misses (a secret's first 63 bytes).
  std::string text;
  while (text.size() < (4u << 20)) {
    text += random_string(4000) + "\n";
    const std::string& secret = secrets[text.size() % secrets.size()];
    text += secret + " " + secret.substr(0, 63) + "\n";
  }
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::string> chunks;
  for (size_t at = 0; at < text.size(); at += 65536) chunks.push_back(text.substr(at, 65536));
  const std::string masked = MaskChunks(secrets, chunks);
  const auto elapsed =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start);
  std::printf("[figure] masking %zu bytes in 64 KiB chunks with 100 secrets of 64 bytes: %.1f ms\n",
              text.size(), elapsed.count());
  for (const std::string& secret : secrets) ASSERT_EQ(masked.find(secret), std::string::npos);
  // Generous for a shared 2-core machine and sanitizers; an O(n*m*k) scan takes minutes.
  EXPECT_LT(elapsed.count(), 5000.0);
}

TEST(SecretMasker, MasksFourMiBOfNearMissesInLinearTime) {
  // Secrets sharing a 63-byte prefix and output that is that prefix over and over: every byte
  // keeps the automaton deep in the shared prefix without a match.
  std::vector<std::string> secrets;
  for (int i = 0; i < 100; ++i)
    secrets.push_back(std::string(63, 'a') + static_cast<char>(128 + i));
  const std::string text(4u << 20, 'a');
  const auto start = std::chrono::steady_clock::now();
  SecretMasker masker(secrets);
  std::string out;
  for (size_t at = 0; at < text.size(); at += 65536) masker.Write(text.substr(at, 65536), &out);
  masker.Flush(&out);
  const auto elapsed =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start);
  std::printf("[figure] masking 4 MiB of near misses of 100 secrets of 64 bytes: %.1f ms\n",
              elapsed.count());
  EXPECT_EQ(out, text);
  EXPECT_LT(elapsed.count(), 5000.0);
}

// --- JobLog ---

class JobLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "sluice_job_log_XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    path_ = dir_ + "/build-log.txt";
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<JobLog> Open(uint64_t max_bytes, std::vector<std::string> secrets = {}) {
    auto log = JobLog::Open(path_, max_bytes, secrets);
    EXPECT_TRUE(log.ok()) << log.status().message();
    return log.ok() ? std::move(*log) : nullptr;
  }
  std::string Contents() const {
    std::ifstream in(path_, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

  std::string dir_;
  std::string path_;
};

const std::string kLimitNote10 =
    "[sluice] the log reached its limit of 10 bytes (worker.max_log_bytes); further output is "
    "dropped\n";

TEST_F(JobLogTest, WritesOutputAndNotesInOrder) {
  auto log = Open(1 << 20);
  log->Note("attempt 1 of build");
  log->Output("hello\n");
  log->Flush();
  log->Note("finished: SUCCESS");
  EXPECT_EQ(Contents(), "[sluice] attempt 1 of build\nhello\n[sluice] finished: SUCCESS\n");
}

TEST_F(JobLogTest, ANoteStartsOnALineOfItsOwn) {
  auto log = Open(1 << 20);
  log->Output("no newline at the end");
  log->Note("finished: FAILURE");
  EXPECT_EQ(Contents(), "no newline at the end\n[sluice] finished: FAILURE\n");
}

TEST_F(JobLogTest, ANoteIsMaskedAndKeptToOneLine) {
  auto log = Open(1 << 20, {"hunter2hunter2"});
  log->Note("running deploy --token hunter2hunter2\n[sluice] finished: SUCCESS");
  log->Note("hunter2hunter2");
  EXPECT_EQ(Contents(),
            "[sluice] running deploy --token [MASKED]\\n[sluice] finished: SUCCESS\n"
            "[sluice] [MASKED]\n");
}

TEST_F(JobLogTest, ALongNoteIsCut) {
  auto log = Open(1 << 20);
  log->Note(std::string(3 * kMaxNoteBytes, 'x'));
  EXPECT_LT(Contents().size(), kMaxNoteBytes + 32);
}

TEST_F(JobLogTest, MasksASecretSplitAcrossOutputs) {
  auto log = Open(1 << 20, {"s3cr3t-token-value"});
  log->Output("token=s3cr");
  log->Output("3t-tok");
  log->Output("en-value\n");
  log->Flush();
  EXPECT_EQ(Contents(), "token=[MASKED]\n");
}

TEST_F(JobLogTest, HeldOutputFollowsANoteAndIsWrittenByFlush) {
  auto log = Open(1 << 20, {"s3cr3t-token-value"});
  log->Output("token=s3cr");
  log->Note("stopping: timed out");
  log->Flush();
  EXPECT_EQ(Contents(), "token=\n[sluice] stopping: timed out\ns3cr");
}

TEST_F(JobLogTest, TheDestructorWritesHeldOutput) {
  auto log = Open(1 << 20, {"s3cr3t-token-value"});
  log->Output("tail s3cr");
  log.reset();
  EXPECT_EQ(Contents(), "tail s3cr");
}

TEST_F(JobLogTest, OutputOfExactlyTheCapIsWrittenWhole) {
  auto log = Open(10);
  log->Output("12345");
  log->Output("67890");
  log->Flush();
  EXPECT_FALSE(log->capped());
  EXPECT_EQ(Contents(), "1234567890");
  log->Output("x");
  EXPECT_TRUE(log->capped());
  EXPECT_EQ(Contents(), "1234567890\n" + kLimitNote10);
}

TEST_F(JobLogTest, OutputPastTheCapIsDroppedWithOneNote) {
  auto log = Open(10);
  for (int i = 0; i < 5; ++i) log->Output("abcdefg");
  log->Flush();
  log->Note("finished: SUCCESS");
  EXPECT_TRUE(log->capped());
  EXPECT_EQ(log->output_bytes(), 10u);
  EXPECT_EQ(Contents(), "abcdefgabc\n" + kLimitNote10 + "[sluice] finished: SUCCESS\n");
}

TEST_F(JobLogTest, ACapInsideAMaskedSecretLeavesTheMaskOut) {
  auto log = Open(10, {"s3cr3t-token-value"});
  log->Output("abcd s3cr3t-token-value tail");
  log->Note("finished: SUCCESS");
  EXPECT_EQ(Contents(), "abcd \n" + kLimitNote10 + "[sluice] finished: SUCCESS\n");
  EXPECT_EQ(log->output_bytes(), 5u);
}

TEST_F(JobLogTest, TheCapCountsTheMaskedText) {
  auto log = Open(10, {"s3cr3t-token-value"});
  log->Output("s3cr3t-token-value\n");  // 19 bytes of output, 9 written
  log->Flush();
  EXPECT_FALSE(log->capped());
  EXPECT_EQ(log->output_bytes(), 9u);
  EXPECT_EQ(Contents(), "[MASKED]\n");
}

TEST_F(JobLogTest, AZeroCapDropsAllOutput) {
  auto log = Open(0);
  log->Output("x");
  log->Note("finished: SUCCESS");
  EXPECT_EQ(Contents(),
            "[sluice] the log reached its limit of 0 bytes (worker.max_log_bytes); further "
            "output is dropped\n[sluice] finished: SUCCESS\n");
}

TEST_F(JobLogTest, AppendsToAnEarlierAttemptsLogOnANewLine) {
  std::ofstream(path_) << "[sluice] attempt 1\nhalf a li";
  auto log = Open(1 << 20);
  log->Note("attempt 2");
  EXPECT_EQ(Contents(), "[sluice] attempt 1\nhalf a li\n[sluice] attempt 2\n");
}

TEST_F(JobLogTest, RefusesALinkOrAFileThatIsNotRegular) {
  std::ofstream(dir_ + "/elsewhere") << "";
  fs::create_symlink(dir_ + "/elsewhere", path_);
  EXPECT_FALSE(JobLog::Open(path_, 10, {}).ok());
  fs::remove(path_);
  ASSERT_EQ(::mkfifo(path_.c_str(), 0600), 0);
  EXPECT_FALSE(JobLog::Open(path_, 10, {}).ok());
}

TEST_F(JobLogTest, KeepsTheLogOpenForAppendingOnly) {
  auto log = Open(1 << 20);
  int found = 0;
  for (const auto& entry : fs::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    if (fs::read_symlink(entry.path(), ec) != fs::path(path_)) continue;
    ++found;
    std::ifstream info("/proc/self/fdinfo/" + entry.path().filename().string());
    std::string key;
    std::string flags;
    while (info >> key >> flags && key != "flags:") {
    }
    const int value = std::stoi(flags, nullptr, 8);
    EXPECT_EQ(value & O_ACCMODE, O_WRONLY);
    EXPECT_NE(value & O_APPEND, 0);
  }
  EXPECT_EQ(found, 1);
}

}  // namespace
}  // namespace sluice
