// Item ids without a random source or a clock: every id of a turn derives from the response id the route chose
// (`resp_<x>` → `msg_<x>_o0`, `fc_<x>_o1`, …), so the same inputs always give the same objects and ids stay unique
// as long as response ids are. Input items and output items count in separate series.

export class ItemIds {
  private n = 0;
  private readonly stem: string;

  constructor(responseId: string, private readonly series: "i" | "o") {
    this.stem = responseId.startsWith("resp_") ? responseId.slice(5) : responseId;
  }

  next(prefix: "msg" | "fc" | "ctc" | "rs" | "item"): string {
    return `${prefix}_${this.stem}_${this.series}${this.n++}`;
  }
}
