// The printed report: one table of figures with targets, then notes on each phase.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <iostream>

#include "bench.hpp"
#include "stats.hpp"

namespace bench::hls {
namespace {

std::string four(const Dist& d) {
  if (d.n == 0) return "-";
  return fmt::format("{} / {} / {} / {}", fixed(d.p50), fixed(d.p95), fixed(d.p99), fixed(d.max));
}

std::string three(const Dist& d) {
  if (d.n == 0) return "-";
  return fmt::format("{} / {} / {}", fixed(d.p50), fixed(d.p99), fixed(d.max));
}

std::string errors(const ClientCounters& c) {
  uint64_t http = 0;
  for (const auto& [status, n] : c.statuses) http += n;
  return fmt::format("{} / {} / {} / {}", http, c.serverCloses, c.clientTimeouts,
                     c.connectErrors + c.protocolErrors);
}

std::string statuses(const ClientCounters& c) {
  std::string out;
  for (const auto& [status, n] : c.statuses) out += fmt::format(" {}x{}", n, status);
  return out.empty() ? " none" : out;
}

void row(Table& t, const std::string& name, const std::string& value,
         const std::string& target = "", std::optional<bool> ok = std::nullopt) {
  t.row({name, value, "", "", target, target.empty() ? "" : verdict(ok)});
}

void viewerRows(Table& t, const ViewerFigures& v) {
  const std::string p = fmt::format("{} viewers: ", v.asked);
  row(t, p + "held / asked", fmt::format("{}/{}", v.held, v.asked), "all", v.held == v.asked);
  row(t, p + "part delay p50/p95/p99/max (ms)", four(v.delay), "p99 < 200",
      v.delay.n ? std::optional<bool>(v.delay.p99 < 200) : std::nullopt);
  row(t, p + "slowest viewer per part p50/p99/max", three(v.slowestPerPart));
  row(t, p + "parts delivered / undelivered", fmt::format("{} / {}", v.delivered, v.undelivered),
      "0 undelivered", v.undelivered == 0);
  row(t, p + "errors: HTTP / closed / timeout / other", errors(v.counters), "0",
      v.counters.statuses.empty() && v.counters.serverCloses + v.counters.clientTimeouts +
                                             v.counters.connectErrors + v.counters.protocolErrors ==
                                         0);
  row(t, p + "serve CPU (% of a core) / RSS (MiB)",
      fmt::format("{:.0f} / {:.0f}", v.serveCpuPct, static_cast<double>(v.serveRssKiB) / 1024));
  row(t, p + "CPU per response (us): serve / client",
      fmt::format("{:.0f} / {:.0f}", v.serveUsPerResponse, v.clientUsPerResponse));
}

void heldRows(Table& t, const HeldFigures& h) {
  const std::string p = fmt::format("{} held: ", h.asked);
  row(t, p + "last response after publish p50/p99/max (ms)", three(h.lastPerPart), "p99 <= 20",
      h.lastPerPart.n ? std::optional<bool>(h.lastPerPart.p99 <= 20) : std::nullopt);
  row(t, p + "requests held per part min / mean", fmt::format("{} / {:.0f}", h.minHeld, h.meanHeld),
      "all", h.parts > 0 && h.minHeld == h.asked);
  row(t, p + "every held response p50/p99/max (ms)", three(h.allHeld));
}

std::string ratio(double a, double b) {
  return b > 0 ? fmt::format("{:.2f}", a / b) : "-";
}

void peerRows(Table& t, const PeerFigures& f) {
  const auto rps = [&](const std::string& name, const RpsFigures& a, const RpsFigures& b,
                       const std::string& target) {
    const bool judged = f.nginxRan && b.rps > 0;
    t.row({name, fmt::format("{:.0f}", a.rps), f.nginxRan ? fmt::format("{:.0f}", b.rps) : "-",
           f.nginxRan ? ratio(a.rps, b.rps) : "-", target,
           target.empty()
               ? ""
               : verdict(judged ? std::optional<bool>(a.rps >= 0.7 * b.rps) : std::nullopt)});
  };
  rps(fmt::format("parts ({} B): requests/s", f.partBytes), f.serveParts, f.nginxParts,
      "ratio >= 0.7");
  rps(fmt::format("playlist ({} B): requests/s", f.playlistBytes), f.servePlaylist, f.nginxPlaylist,
      "");
  t.row({"parts: server CPU (% of a core)", fmt::format("{:.0f}", f.serveParts.serverCpuPct),
         f.nginxRan ? fmt::format("{:.0f}", f.nginxParts.serverCpuPct) : "-", "", "", ""});
  const auto us = [&](const std::string& name, const RpsFigures& a, const RpsFigures& b) {
    t.row({name, fmt::format("{:.0f}", a.serverUsPerResponse),
           f.nginxRan ? fmt::format("{:.0f}", b.serverUsPerResponse) : "-",
           f.nginxRan ? ratio(a.serverUsPerResponse, b.serverUsPerResponse) : "-", "", ""});
  };
  us("parts: server CPU per response (us)", f.serveParts, f.nginxParts);
  us("playlist: server CPU per response (us)", f.servePlaylist, f.nginxPlaylist);
}

void viewerNotes(const ViewerFigures& v) {
  fmt::print(
      "viewers {}: {} established when the ramp ended ({:.1f} s), {} by the end; window of {} "
      "parts; {} dropped in the window; {:.0f} playlists/s + {:.0f} parts/s answered\n",
      v.asked, v.establishedAtRamp, v.openSeconds, v.established, v.partsInWindow,
      v.droppedInWindow, v.playlistsPerSecond, v.partsPerSecond);
  // Each viewer costs 2 responses (playlist + part) per 0.5 s part.
  if (v.serveUsPerResponse > 0) {
    fmt::print(
        "viewers {}: at {:.0f} us of serve CPU per response, one core answers {:.0f} "
        "viewers (4 responses/s each)\n",
        v.asked, v.serveUsPerResponse, 1e6 / (4 * v.serveUsPerResponse));
  }
  fmt::print(
      "viewers {}: CPU % of a core: serve {:.0f}, nats-server {:.0f}, this client {:.0f}; "
      "publishPart() p50/p99/max {} ms; {} parts received before publish() returned; "
      "non-200:{}; reconnects {}\n",
      v.asked, v.serveCpuPct, v.natsCpuPct, v.clientCpuPct, three(v.publishMs), v.negative,
      statuses(v.counters), v.counters.reconnects);
}

void peerNotes(const PeerFigures& f) {
  const auto line = [](const char* who, const RpsFigures& r) {
    fmt::print(
        "peer {}: {:.0f} req/s, {:.1f} MB/s, {}/{} connections, server CPU {:.0f}%, "
        "client CPU {:.1f} us/response, non-200:{}, closed {}, timeouts {}\n",
        who, r.rps, r.mbps, r.established, r.connections, r.serverCpuPct, r.clientUsPerResponse,
        statuses(r.counters), r.counters.serverCloses, r.counters.clientTimeouts);
  };
  line("serve parts", f.serveParts);
  line("serve playlist", f.servePlaylist);
  if (!f.nginxRan) {
    fmt::print("peer: {}\n", f.nginxError);
    return;
  }
  line("nginx parts", f.nginxParts);
  line("nginx playlist", f.nginxPlaylist);
}

}  // namespace

void printReport(const Options& o, const Report& r) {
  Table t;
  t.row({"figure", "serve", "nginx", "serve/nginx", "target", ""});
  for (const auto& v : r.viewers) viewerRows(t, v);
  for (const auto& h : r.held) heldRows(t, h);
  for (const auto& p : r.peer) peerRows(t, p);
  std::cout << "\n" << t.render() << "\n";
  for (const auto& v : r.viewers) viewerNotes(v);
  for (const auto& h : r.held) {
    fmt::print("held {}: {} established, {} parts; non-200:{}; closed {}, timeouts {}\n", h.asked,
               h.established, h.parts, statuses(h.counters), h.counters.serverCloses,
               h.counters.clientTimeouts);
  }
  for (const auto& p : r.peer) peerNotes(p);
  fmt::print(
      "serve flags: --io-threads {} --worker-threads {}{}; client threads {}{}\n", o.ioThreads,
      o.workerThreads, o.amphiArgs.empty() ? "" : fmt::format(" {}", fmt::join(o.amphiArgs, " ")),
      o.clientThreads, o.quickAck ? "; --quickack: the client ACKs at once, unlike a browser" : "");
}

}  // namespace bench::hls
