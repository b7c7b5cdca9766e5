// The printed report: one table of figures with targets, then notes on each run.
#include <fmt/format.h>

#include <iostream>

#include "bench.hpp"

namespace bench {
namespace {

std::string ms(const Summary& s) {
  return s.n == 0 ? "-" : fmt::format("{} / {} / {}", fixed(s.p50), fixed(s.p99), fixed(s.max));
}

std::string ratio(double a, double b) {
  return b > 0 ? fmt::format("{:.2f}x", a / b) : "-";
}

using Figures = std::optional<FanoutFigures>;
using Cell = std::function<std::string(const FanoutFigures&)>;
using Judge = std::function<std::optional<bool>(const FanoutFigures&)>;

// A figure measured on both servers: amphi, nchan, their ratio (from `number`), target.
void both(Table& t, const std::string& name, const Figures& a, const Figures& n, const Cell& cell,
          const std::function<double(const FanoutFigures&)>& number, const std::string& target,
          const Judge& judge) {
  const auto show = [&](const Figures& f) { return f ? cell(*f) : std::string("-"); };
  const std::string r = a && n && number ? ratio(number(*a), number(*n)) : "";
  t.row({name, show(a), show(n), r, target, a && judge ? verdict(judge(*a)) : ""});
}

void fanoutRows(Table& t, const Figures& a, const Figures& n) {
  both(
      t, "streams held / asked", a, n,
      [](auto& f) { return fmt::format("{}/{}", f.held, f.wanted); }, nullptr, "all",
      [](auto& f) { return f.held == f.wanted; });
  both(
      t, "streams that got the warm-up event", a, n,
      [](auto& f) { return std::to_string(f.attached); }, nullptr, "all",
      [](auto& f) { return f.attached == f.wanted; });
  both(
      t, "RSS per idle stream (KiB)", a, n, [](auto& f) { return fixed(f.rssPerConnKiB, 2); },
      [](auto& f) { return f.rssPerConnKiB; }, "<= 10",
      [](auto& f) { return f.rssPerConnKiB <= 10; });
  both(
      t, "fan-out p50 / p99 / max (ms)", a, n, [](auto& f) { return ms(f.delays); },
      [](auto& f) { return f.delays.p99; }, "p99 <= 100",
      [](auto& f) { return f.delays.n ? std::optional<bool>(f.delays.p99 <= 100) : std::nullopt; });
  both(
      t, "fan-out slowest stream per event p50/p99/max", a, n,
      [](auto& f) { return ms(f.lastPerEvent); }, [](auto& f) { return f.lastPerEvent.p99; }, "",
      nullptr);
  both(
      t, "fan-out server CPU per delivery (us)", a, n,
      [](auto& f) { return fixed(f.serverCpuUsPerDelivery, 2); },
      [](auto& f) { return f.serverCpuUsPerDelivery; }, "", nullptr);
  both(
      t, "fan-out client CPU per delivery (us)", a, n,
      [](auto& f) { return fixed(f.clientCpuUsPerDelivery, 2); }, nullptr, "", nullptr);
  both(
      t, "fan-out load average (1 min) before / after", a, n,
      [](auto& f) { return f.fanoutLoad; }, nullptr, "", nullptr);
  both(
      t, "fan-out deliveries / undelivered", a, n,
      [](auto& f) { return fmt::format("{} / {}", f.delays.n, f.undelivered); }, nullptr,
      "0 undelivered", [](auto& f) { return f.undelivered == 0; });
}

void amphiRows(Table& t, const Options& o, const AmphiFigures& a) {
  const auto row = [&](const std::string& name, const std::string& value, const std::string& target,
                       std::optional<bool> ok, bool judged) {
    t.row({name, value, "", "", target, judged ? verdict(ok) : ""});
  };
  row("raise/lower -> moderator p50/p99/max (ms)", ms(a.raise), "p99 < 20",
      a.raise.n ? std::optional<bool>(a.raise.p99 < 20) : std::nullopt, true);
  row("raise/lower POSTs/s achieved (asked)",
      fmt::format("{:.0f} ({:.0f})", a.raiseRate, o.raiseRate), "", {}, false);
  row("raise/lower HTTP errors / changes with no event",
      fmt::format("{} / {}", a.raiseErrors, a.raiseMissing + a.raiseUnexpected), "0 / 0",
      a.raiseErrors + a.raiseMissing + a.raiseUnexpected == 0, true);
  // A post sent while the same user's previous one was still in flight (the sender was
  // late and caught up) may be applied first and change nothing: not a server error.
  row("raise/lower posts that changed nothing", std::to_string(a.raiseUnchanged), "", {}, false);
  row("raise/lower HTTP response p50/p99/max (ms)", ms(a.raiseHttp), "", {}, false);
  row("raise/lower sender lateness p50/p99/max (ms)", ms(a.raiseLate), "", {}, false);
  row("promote -> user p50/p99/max (ms)", ms(a.promote), "", {}, false);
  row("demote -> user p50/p99/max (ms)", ms(a.demote), "", {}, false);
  row("raise/lower load average (1 min) before / after", a.raiseLoad, "", {}, false);
  // The target is for the compare-and-set; the event's publish that follows it
  // (a second round trip) is shown beside it.
  row("bus: KV compare-and-set p99 (ms)", a.casP99Ms ? fixed(*a.casP99Ms, 3) : "-", "<= 1",
      a.casP99Ms ? std::optional<bool>(*a.casP99Ms <= 1) : std::nullopt, true);
  row("bus: KV compare-and-set mean (ms)", a.casMeanMs ? fixed(*a.casMeanMs, 3) : "-", "", {},
      false);
  row("bus change (CAS + publish) p99 / mean (ms)",
      a.busP99Ms && a.busMeanMs ? fmt::format("{} / {}", fixed(*a.busP99Ms, 3), fixed(*a.busMeanMs, 3))
                                : "-",
      "", {}, false);
  row("bus changes / CAS retries", fmt::format("{:.0f} / {:.0f}", a.busCount, a.casConflicts), "",
      {}, false);
}

void openingNotes(const char* who, const FanoutFigures& x) {
  fmt::print(
      "{}: {} streams opened in {:.2f} s (first 10% at {:.0f}/s, last 10% at {:.0f}/s), "
      "quiet {:.2f} s later\n{}: while opening: {}\n",
      who, x.headOk, x.openSeconds, x.firstTenthRate, x.lastTenthRate, x.settleSeconds, who,
      x.openFrames);
  fmt::print(
      "{}: RSS {} KiB before the streams, {} KiB with them idle; {} closed after their "
      "head; {} publish errors\n",
      who, x.rssBeforeKiB, x.rssAfterKiB, x.closed, x.postErrors);
  for (const auto& note : x.notes) fmt::print("{}: {}\n", who, note);
}

void amphiNotes(const AmphiFigures& a) {
  fmt::print("amphi: {} joins in {:.2f} s ({:.0f}/s)\n", a.joins, a.joinSeconds,
             static_cast<double>(a.joins) / std::max(a.joinSeconds, 1e-9));
  openingNotes("amphi", a.fan);
  fmt::print("amphi: server gauge amphi_sse_connections={}, amphi_sse_dropped_slow_total={}\n",
             a.serverSseGauge.value_or(-1), a.droppedSlow.value_or(-1));
  fmt::print("amphi: shutdown (SIGTERM to exit) with {} streams open: {}\n", a.fan.held,
             a.shutdown ? fmt::format("{} ms", a.shutdown->count()) : "did not exit, killed");
  for (const auto& note : a.notes) fmt::print("amphi: {}\n", note);
}

}  // namespace

void printReport(const Options& o, const std::optional<AmphiFigures>& amphi, const Figures& nchan) {
  Table t;
  t.row({"figure", "amphi", "nchan", "amphi/nchan", "target", ""});
  fanoutRows(t, amphi ? Figures(amphi->fan) : std::nullopt, nchan);
  if (amphi) amphiRows(t, o, *amphi);
  std::cout << "\n" << t.render() << "\n";
  if (amphi) amphiNotes(*amphi);
  if (nchan) openingNotes("nchan", *nchan);
}

}  // namespace bench
