#include "stats.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <numeric>

namespace bench {

namespace {
double rank(const std::vector<double>& sorted, double q) {
  // Nearest rank: the smallest value with at least q of the values at or below it.
  const auto n = sorted.size();
  auto idx = static_cast<std::size_t>(std::ceil(q * static_cast<double>(n)));
  idx = std::clamp<std::size_t>(idx, 1, n);
  return sorted[idx - 1];
}
}  // namespace

Summary summarize(std::vector<double>& values) {
  Summary s;
  s.n = values.size();
  if (values.empty()) return s;
  std::sort(values.begin(), values.end());
  s.p50 = rank(values, 0.50);
  s.p99 = rank(values, 0.99);
  s.max = values.back();
  s.mean = std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(s.n);
  return s;
}

PromHistogram PromHistogram::minus(const PromHistogram& before) const {
  PromHistogram d = *this;
  for (std::size_t i = 0; i < d.buckets.size() && i < before.buckets.size(); ++i) {
    d.buckets[i].second -= before.buckets[i].second;
  }
  d.sum -= before.sum;
  d.count -= before.count;
  return d;
}

std::optional<double> PromHistogram::quantile(double q) const {
  if (count <= 0 || buckets.empty()) return std::nullopt;
  const double want = q * count;
  double lower = 0, below = 0;
  for (const auto& [le, cumulative] : buckets) {
    if (cumulative >= want) {
      if (std::isinf(le)) return lower;  // beyond the last finite bound
      const double inBucket = cumulative - below;
      return inBucket <= 0 ? le : lower + (le - lower) * (want - below) / inBucket;
    }
    lower = le;
    below = cumulative;
  }
  return lower;
}

namespace {
// Each line "name{le="x"} v" or "name_sum v"; returns the lines starting with prefix.
std::vector<std::string_view> linesWith(std::string_view text, std::string_view prefix) {
  std::vector<std::string_view> out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    auto line = text.substr(pos, end - pos);
    if (line.substr(0, prefix.size()) == prefix) out.push_back(line);
    pos = end + 1;
  }
  return out;
}

double valueOf(std::string_view line) {
  const auto space = line.rfind(' ');
  return std::strtod(std::string(line.substr(space + 1)).c_str(), nullptr);
}
}  // namespace

std::optional<PromHistogram> parseHistogram(std::string_view text, std::string_view name) {
  PromHistogram h;
  const std::string bucket = std::string(name) + "_bucket{le=\"";
  for (auto line : linesWith(text, bucket)) {
    auto rest = line.substr(bucket.size());
    auto le = std::string(rest.substr(0, rest.find('"')));
    const double bound = le == "+Inf" ? INFINITY : std::strtod(le.c_str(), nullptr);
    h.buckets.emplace_back(bound, valueOf(line));
  }
  auto sum = linesWith(text, std::string(name) + "_sum ");
  auto count = linesWith(text, std::string(name) + "_count ");
  if (h.buckets.empty() || sum.empty() || count.empty()) return std::nullopt;
  h.sum = valueOf(sum[0]);
  h.count = valueOf(count[0]);
  return h;
}

std::optional<double> parseGauge(std::string_view text, std::string_view name) {
  auto lines = linesWith(text, std::string(name) + " ");
  if (lines.empty()) return std::nullopt;
  return valueOf(lines[0]);
}

std::string Table::render() const {
  std::vector<std::size_t> width;
  for (const auto& r : rows_) {
    width.resize(std::max(width.size(), r.size()));
    for (std::size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  std::string out;
  for (std::size_t n = 0; n < rows_.size(); ++n) {
    const auto& r = rows_[n];
    std::string line;
    for (std::size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 2, ' ');
    }
    out += line + "\n";
    if (n == 0) {
      std::size_t total = 0;
      for (auto w : width) total += w + 2;
      out += std::string(total - 2, '-') + "\n";
    }
  }
  return out;
}

std::string fixed(double value, int decimals) {
  return fmt::format("{:.{}f}", value, decimals);
}

std::string verdict(std::optional<bool> ok) {
  if (!ok) return "n/a";
  return *ok ? "PASS" : "MISS";
}

}  // namespace bench
