// Runs exported ASL on the independent interpreter `aws-local-stepfunctions`, with every Task
// state handled by the Orkestra binary's `invoke` subcommand (as Lambda would run the task).
// Prints Orkestra's run contract: {"status":"SUCCEEDED","output":..} or
// {"status":"FAILED","error":..,"cause":..}.
//
// usage: node run_asl.mjs <asl.json> <input json> <{"state":"task",..} json> <binary> <workflow>
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { StateMachine } from 'aws-local-stepfunctions';

const [aslPath, inputJson, handlersJson, binary, workflow] = process.argv.slice(2);
const definition = JSON.parse(readFileSync(aslPath, 'utf8'));

const taskResourceLocalHandlers = {};
for (const [state, task] of Object.entries(JSON.parse(handlersJson))) {
  taskResourceLocalHandlers[state] = async (event) => {
    try {
      const stdout = execFileSync(binary, ['invoke', task, JSON.stringify(event)], { encoding: 'utf8' });
      return JSON.parse(stdout);
    } catch (failure) {
      if (failure.status !== 1) throw failure;
      // Lambda reports a failed invocation with its error JSON as Cause, errorType as Error.
      const payload = failure.stdout.trim();
      const error = new Error(payload);
      error.name = JSON.parse(payload).errorType;
      throw error;
    }
  };
}

const machine = new StateMachine(definition, { validationOptions: { checkArn: false } });
const input = JSON.parse(inputJson);
// The fields of the Context Object that Step Functions fills and the task envelope reads.
const context = {
  Execution: { Id: `arn:aws:states:us-east-1:123456789012:execution:${workflow}:interp`, Input: input },
  StateMachine: { Id: `arn:aws:states:us-east-1:123456789012:stateMachine:${workflow}`, Name: workflow },
  // aws-local-stepfunctions 3 does not fill $$.State.RetryCount (Step Functions does); no retry
  // happens in these runs, so it is 0.
  State: { RetryCount: 0 },
};
const execution = machine.run(input, { overrides: { taskResourceLocalHandlers }, context });
try {
  const output = await execution.result;
  console.log(JSON.stringify({ status: 'SUCCEEDED', output }));
} catch (failure) {
  const error = failure.name === 'ExecutionError' && failure.cause ? failure.cause : failure;
  console.log(JSON.stringify({ status: 'FAILED', error: error.name, cause: error.cause ?? error.message }));
}
