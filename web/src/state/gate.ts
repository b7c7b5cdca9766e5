// Which events are news for side effects (the stage reacting to PROMOTE / DEMOTE).
// The same rule as the room model: an event at or below the snapshot's id is already
// reflected in it; events before the first snapshot wait for it.
import type { RoomEvent } from '../api/types';

export class EventGate {
  private upTo: number | null = null;
  private held: RoomEvent[] = [];

  /** Returns the events to act on now. */
  event(e: RoomEvent): RoomEvent[] {
    if (e.type === 'RESET') {
      this.upTo = null; // hold events until the refetched snapshot
      this.held = [];
      return [e];
    }
    if (this.upTo === null) {
      this.held.push(e);
      if (this.held.length > 1000) this.held.shift();
      return [];
    }
    if (e.id > 0 && e.id <= this.upTo) return [];
    if (e.id > 0) this.upTo = e.id;
    return [e];
  }

  /**
   * A snapshot arrived: returns the held events it does not reflect, or null when the
   * snapshot is older than events already acted on (it is stale; ignore it).
   */
  snapshot(lastEventId: number): RoomEvent[] | null {
    if (this.upTo !== null && lastEventId < this.upTo) return null;
    this.upTo = lastEventId;
    const fresh = this.held.filter((e) => e.id === 0 || e.id > lastEventId);
    this.held = [];
    for (const e of fresh) if (e.id > this.upTo!) this.upTo = e.id;
    return fresh;
  }
}
