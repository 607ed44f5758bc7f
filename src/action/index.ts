// The Action's entry point: nothing but the call to run().
import { run } from "./main.js";

await run();
