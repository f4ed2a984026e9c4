/**
 * The part of blessed-contrib the dashboard uses (the package ships no types): line and bar
 * charts, each a blessed box drawing on a canvas made when it is appended to the screen.
 */
declare module 'blessed-contrib' {
  import type blessed from 'blessed';

  export interface LineSeries {
    title: string;
    x: string[];
    y: number[];
    style?: { line?: string };
  }
  export interface LineOptions extends blessed.Widgets.BoxOptions {
    showLegend?: boolean;
    legend?: { width?: number };
    wholeNumbersOnly?: boolean;
    abbreviate?: boolean;
    minY?: number;
    maxY?: number;
    numYLabels?: number;
    xLabelPadding?: number;
    xPadding?: number;
    showNthLabel?: number;
    style?: { line?: string; text?: string; baseline?: string; border?: { fg?: string } };
  }
  export interface LineChart extends blessed.Widgets.BoxElement {
    setData(series: LineSeries[]): void;
  }
  export interface BarOptions extends blessed.Widgets.BoxOptions {
    barWidth?: number;
    barSpacing?: number;
    xOffset?: number;
    maxHeight?: number;
    showText?: boolean;
    barBgColor?: string;
    barFgColor?: string;
    labelColor?: string;
  }
  export interface BarChart extends blessed.Widgets.BoxElement {
    setData(data: { titles: string[]; data: number[] }): void;
  }
  const contrib: {
    line(options: LineOptions): LineChart;
    bar(options: BarOptions): BarChart;
  };
  export default contrib;
}
