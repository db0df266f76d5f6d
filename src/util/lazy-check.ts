// TypeBox checkers compiled on first use: compiling costs memory (generated code, JIT), so a route or provider type
// that nobody calls should not pay for it at startup.
import type { Static, TSchema } from "@sinclair/typebox";
import { TypeCompiler, type TypeCheck } from "@sinclair/typebox/compiler";

export class LazyCheck<T extends TSchema> {
  private compiled: TypeCheck<T> | undefined;
  constructor(private readonly schema: T) {}

  private get checker(): TypeCheck<T> {
    return (this.compiled ??= TypeCompiler.Compile(this.schema));
  }

  Check(value: unknown): value is Static<T> {
    return this.checker.Check(value);
  }

  Errors(value: unknown) {
    return this.checker.Errors(value);
  }
}
