// Percentiles, Prometheus histogram arithmetic and the printed table.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bench {

struct Summary {
  std::size_t n = 0;
  double p50 = 0, p99 = 0, max = 0, mean = 0;
};
// Sorts values (milliseconds or anything else) in place.
Summary summarize(std::vector<double>& values);

// One histogram from a Prometheus text exposition: cumulative buckets by upper bound.
struct PromHistogram {
  std::vector<std::pair<double, double>> buckets;  // (le, cumulative count), +Inf last
  double sum = 0;
  double count = 0;
  // after - before, bucket by bucket.
  PromHistogram minus(const PromHistogram& before) const;
  // Linear interpolation inside the bucket holding quantile q (Prometheus'
  // histogram_quantile); nothing when the histogram is empty.
  std::optional<double> quantile(double q) const;
};
std::optional<PromHistogram> parseHistogram(std::string_view text, std::string_view name);
// The value of an unlabelled metric line "name value".
std::optional<double> parseGauge(std::string_view text, std::string_view name);

// A plain text table: the first row is the header.
class Table {
 public:
  void row(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }
  std::string render() const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

std::string fixed(double value, int decimals = 1);
// "PASS" when ok, "MISS" otherwise, "n/a" when there is nothing to judge.
std::string verdict(std::optional<bool> ok);

}  // namespace bench
